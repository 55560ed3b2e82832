"""The pipeline's Lambda functions: one role and one log group each, least privilege, JSON logs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct

from stacks.cluster.dependencies import JOB_GROUP
from stacks.cluster.eks import access_entry, eks_cluster_arn
from stacks.cluster.training_cluster import JobNetwork, TrainingCluster
from stacks.shared.bundling import RUNTIME, pipeline_code
from stacks.shared.log_key import logs_key
from stacks.shared.nag import acknowledge_managed_policies, acknowledge_wildcard_resources, skip_checkov
from stacks.storage.access import BucketAccessPolicies

METRICS_NAMESPACE: Final = "NovaCpt"

ASYNC_FUNCTIONS: Final = frozenset({"Trigger", "CleanUpAborted"})
"""Functions invoked asynchronously (by EventBridge): DropTrigger and AbortCleanup give them a dead-letter
queue. Every other function is invoked synchronously by the run state machine."""

# Checkov findings on every function, skipped with the reason (written to each function's Metadata).
_CHECKOV_SKIPS: Final = {
    "CKV_AWS_117": "Not in a VPC: the functions only call AWS APIs (S3, Step Functions, SNS) through their "
    "public endpoints and reach nothing private; the HyperPod issue puts the job functions in the cluster's VPC.",
    "CKV_AWS_173": "No secrets in the environment: only bucket names, ARNs, the account, region and numbers, "
    "which Lambda encrypts at rest with its AWS managed key; a customer managed key would protect nothing more.",
    "CKV_AWS_115": "No reserved concurrency: reserving carves capacity out of the account's shared pool (and fails "
    "the deployment in accounts whose limit is low); invocations are already bounded: one run step at a time, "
    "validation_concurrency shards at most (the Distributed Map's MaxConcurrency), and one trigger per "
    "uploaded recipe.",
}
_CHECKOV_SYNC_DLQ_REASON: Final = (
    "No dead-letter queue: the run state machine invokes this function synchronously, and a Lambda DLQ only "
    "receives failed asynchronous invocations; failures are retried and caught by the state machine "
    "(Retry on TransientError, Catch to the clean-up path)."
)


@dataclass(frozen=True)
class FunctionSpec:
    """Sizing of one function, chosen for its worst input."""

    handler: str
    memory_mb: int
    timeout: Duration
    description: str


# Memory and timeouts (worst input):
# - ValidateShard scans one shard (at most validation_shard_gib, 16 GiB by default) read with 8
#   parallel ranged GETs: the validator does 0.12 GB/s on one core on its slowest shape (short
#   \uXXXX-escaped Japanese lines; make bench, on a shared machine), so a full shard takes ~2.5 min
#   of CPU; 15 minutes leaves room for a slow S3. 4 GB gives 2+ vCPUs (reads beside the scan) and
#   holds ~40 bytes a record at the peak (hashes, rows, upload): 16 GiB of ~245 B records is ~2.8 GB.
# - CountDuplicates holds one hash partition (about 4 GiB of data's records, 16 bytes each).
# - MergeReports reads the shards' small summaries.
# - ArchiveOutputs copies and re-reads (checksums) the manifest and TensorBoard logs: minutes.
# - ValidateRecipe reads a 1 MiB recipe at most and checks a few S3 paths: seconds.
# - The others call one API or compute a few numbers.
SPECS: Final = {
    "ValidateRecipe": FunctionSpec("lambdas.validate_recipe.handler", 512, Duration.seconds(60), "Validate the recipe"),
    "PlanValidation": FunctionSpec(
        "lambdas.validate_dataset.plan", 256, Duration.seconds(60), "Plan the dataset validation shards"
    ),
    "ValidateShard": FunctionSpec(
        "lambdas.validate_dataset.shard", 4096, Duration.minutes(15), "Validate one byte range of a dataset"
    ),
    "CountDuplicates": FunctionSpec(
        "lambdas.validate_dataset.duplicates", 4096, Duration.minutes(15), "Count one hash partition's duplicates"
    ),
    "MergeReports": FunctionSpec(
        "lambdas.validate_dataset.merge", 1024, Duration.minutes(5), "Merge shard reports into dataset reports"
    ),
    "Estimate": FunctionSpec("lambdas.estimate.handler", 256, Duration.seconds(30), "Estimate hours and budget"),
    "Preflight": FunctionSpec(
        "lambdas.preflight.handler", 256, Duration.seconds(60), "Check quota, cluster and add-ons before capacity"
    ),
    "PrepareCapacity": FunctionSpec(
        "lambdas.capacity.prepare", 256, Duration.seconds(60), "Scale the cluster up and check its instances"
    ),
    "ReleaseCapacity": FunctionSpec("lambdas.capacity.release", 256, Duration.seconds(60), "Scale the cluster down"),
    "SubmitJob": FunctionSpec("lambdas.job.submit", 256, Duration.seconds(60), "Start the CPT job"),
    "PollJob": FunctionSpec("lambdas.job.poll", 256, Duration.seconds(60), "Read the CPT job's state"),
    "CancelJob": FunctionSpec("lambdas.job.cancel", 256, Duration.seconds(60), "Stop and delete the CPT job"),
    "ArchiveOutputs": FunctionSpec(
        "lambdas.archive.handler", 1024, Duration.minutes(15), "Archive outputs and write run.json"
    ),
    "Notify": FunctionSpec("lambdas.notify.handler", 256, Duration.seconds(30), "Publish the run's outcome"),
    "Trigger": FunctionSpec("lambdas.trigger.handler", 256, Duration.seconds(30), "Start a run for a recipe drop"),
}


# Created only with a training cluster (app.py always has one): invoked by the AbortCleanup rule.
CLEANUP_SPEC: Final = FunctionSpec(
    "lambdas.capacity.aborted", 256, Duration.seconds(60), "Cancel the job and release capacity of an aborted run"
)
CLEANUP_FUNCTION: Final = "CleanUpAborted"
CAPACITY_FUNCTIONS: Final = ("PrepareCapacity", "ReleaseCapacity", CLEANUP_FUNCTION)
JOB_FUNCTIONS: Final = ("Preflight", "SubmitJob", "PollJob", "CancelJob", CLEANUP_FUNCTION)
_SCALE_ACTIONS: Final = ("sagemaker:DescribeCluster", "sagemaker:UpdateCluster")


class PipelineFunctions(Construct):
    """Creates every function of SPECS with its own role, log group and permissions."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        access: BucketAccessPolicies,
        data_bucket: s3.IBucket,
        output_bucket: s3.IBucket,
        archive_bucket: s3.IBucket,
        topic: sns.ITopic,
        topic_key: kms.IKey,
        log_retention: logs.RetentionDays,
        poll_interval_seconds: int,
        max_poll_seconds: float,
        max_stuck_minutes: float,
        shard_bytes: int,
        budget_instance_hours: float | None,
        price_per_instance_hour: float | None,
        max_capacity_wait_seconds: float,
        max_replicas: int,
        model_type: str,
        cluster: TrainingCluster | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self._code = pipeline_code()
        self._retention = log_retention
        # CloudWatch Logs encrypts the function and state machine log groups with this key.
        self.log_key = logs_key(self, "LogKey", "Encrypts the Nova CPT pipeline's CloudWatch log groups")
        self.functions: dict[str, lambda_.Function] = {}
        deployment = {
            "ACCOUNT_ID": stack.account,
            "REGION": stack.region,
            "DATA_BUCKET": data_bucket.bucket_name,
            "OUTPUT_BUCKET": output_bucket.bucket_name,
            "ARCHIVE_BUCKET": archive_bucket.bucket_name,
        }
        backend = _backend_env(cluster)
        capacity = {
            **backend,
            "POLL_INTERVAL_SECONDS": str(poll_interval_seconds),
            "MAX_CAPACITY_WAIT_SECONDS": str(max_capacity_wait_seconds),
        }
        jobs = backend
        if cluster is not None:
            capacity |= {"CAPACITY_ZONE": cluster.zone, "TRAINING_PLAN": str(cluster.training_plan).lower()}
            jobs = {
                **deployment,
                **backend,
                "EKS_CLUSTER_NAME": cluster.eks_name,
                "HYPERPOD_CLUSTER_ARN": cluster.hyperpod_arn,
            }
        estimate = {}
        if budget_instance_hours is not None:
            estimate["BUDGET_INSTANCE_HOURS"] = str(budget_instance_hours)
        if price_per_instance_hour is not None:
            estimate["PRICE_PER_INSTANCE_HOUR"] = str(price_per_instance_hour)
        notify = {"TOPIC_ARN": topic.topic_arn}
        if cluster is not None:  # the notification names the cluster's log group (lambdas/notify.py NotifyEnv)
            notify |= {"HYPERPOD_CLUSTER_NAME": cluster.hyperpod_name, "HYPERPOD_CLUSTER_ARN": cluster.hyperpod_arn}
        poll = {
            "POLL_INTERVAL_SECONDS": str(poll_interval_seconds),
            "MAX_POLL_SECONDS": str(max_poll_seconds),
            "MAX_STUCK_MINUTES": str(max_stuck_minutes),
        }
        env = {
            "ValidateRecipe": {**deployment, "MAX_REPLICAS": str(max_replicas), "MODEL_TYPE": model_type},
            "PlanValidation": {**deployment, "SHARD_BYTES": str(shard_bytes)},
            "ValidateShard": deployment,
            "CountDuplicates": deployment,
            "MergeReports": deployment,
            "Estimate": estimate,
            "Preflight": jobs,
            "PrepareCapacity": capacity,
            "ReleaseCapacity": backend,
            "SubmitJob": jobs,
            "PollJob": {**jobs, **poll},
            "CancelJob": jobs,
            "ArchiveOutputs": deployment,
            "Notify": notify,
            "Trigger": {},
        }
        network = cluster.network if cluster else None
        for name, spec in SPECS.items():
            self.functions[name] = self._function(name, spec, env[name], network if name in JOB_FUNCTIONS else None)
        if cluster is not None:
            self.functions[CLEANUP_FUNCTION] = self._function(CLEANUP_FUNCTION, CLEANUP_SPEC, jobs, network)
            self._cluster_access(cluster, access)

        self._attach("ValidateRecipe", access.read_data, access.write_archive, access.locate_buckets)
        self._attach("PlanValidation", access.read_data)
        self._attach("ValidateShard", access.read_data, access.write_archive)
        self._attach("CountDuplicates", access.write_archive)
        self._attach("MergeReports", access.write_archive)
        self._attach("ArchiveOutputs", access.read_outputs, access.write_archive)
        self._allow("Notify", ["sns:Publish"], [topic.topic_arn])
        self._allow("Notify", ["kms:Decrypt", "kms:GenerateDataKey"], [topic_key.key_arn])

    def _cluster_access(self, cluster: TrainingCluster, access: BucketAccessPolicies) -> None:
        """SageMaker on the one HyperPod cluster for the capacity functions; its EKS API for the job functions."""
        stack = Stack.of(self)
        passed_role = cluster.execution_role_arn or stack.format_arn(
            service="iam", region="", resource="role", resource_name="*"
        )
        for name in CAPACITY_FUNCTIONS:
            actions = [*_SCALE_ACTIONS, "sagemaker:ListClusterNodes"] if name == "PrepareCapacity" else _SCALE_ACTIONS
            self._allow(name, list(actions), [cluster.hyperpod_arn])
            # UpdateCluster passes the restricted instance group's execution role back to SageMaker.
            self.functions[name].add_to_role_policy(
                iam.PolicyStatement(
                    actions=["iam:PassRole"],
                    resources=[passed_role],
                    conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
                )
            )
            role = self.functions[name].role
            if cluster.execution_role_arn is None and role is not None:
                acknowledge_wildcard_resources(
                    role,
                    [passed_role],
                    "The existing cluster's execution role is not known at synthesis: UpdateCluster may pass "
                    "any role of the account, and only to SageMaker (iam:PassedToService).",
                )
        # Preflight reads the restricted instance group and the P5 quota (ListServiceQuotas has no resource).
        self._allow("Preflight", ["sagemaker:DescribeCluster"], [cluster.hyperpod_arn])
        self._allow("Preflight", ["servicequotas:ListServiceQuotas"], ["*"])
        preflight_role = self.functions["Preflight"].role
        assert preflight_role is not None
        acknowledge_wildcard_resources(
            preflight_role,
            ["*"],
            "Service Quotas ListServiceQuotas supports no resource-level permission (Resource '*' is required); "
            "it only reads quota values.",
        )
        for name in JOB_FUNCTIONS:
            self._allow(name, ["eks:DescribeCluster"], [eks_cluster_arn(self, cluster.eks_name)])
            role = self.functions[name].role
            assert role is not None  # every function gets its own role
            access_entry(
                self,
                f"{name}ClusterAccess",
                cluster_name=cluster.eks_name,
                principal_arn=role.role_arn,
                policy=None,  # EKS access policies do not reach kubeflow.org objects: RBAC binds the group
                kubernetes_groups=[JOB_GROUP],
            )
        # The job's recipe is the one the run archived (runs/<execution>/recipe.yaml).
        self._attach("SubmitJob", access.write_archive)
        self._attach(CLEANUP_FUNCTION, access.write_archive)

    def _function(
        self, name: str, spec: FunctionSpec, environment: dict[str, str], network: JobNetwork | None = None
    ) -> lambda_.Function:
        log_group = logs.LogGroup(
            self,
            f"{name}Logs",
            retention=self._retention,
            encryption_key=self.log_key,
            removal_policy=RemovalPolicy.DESTROY,
        )
        role = iam.Role(
            self,
            f"{name}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Nova CPT pipeline: {spec.description}",
        )
        function = lambda_.Function(
            self,
            name,
            runtime=RUNTIME,
            architecture=lambda_.Architecture.X86_64,
            code=self._code,
            handler=spec.handler,
            memory_size=spec.memory_mb,
            timeout=spec.timeout,
            description=f"Nova CPT pipeline: {spec.description}",
            role=role,
            log_group=log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            tracing=lambda_.Tracing.ACTIVE,
            vpc=network.vpc if network else None,
            vpc_subnets=network.subnets if network else None,
            security_groups=[network.security_group] if network else None,
            environment={
                "POWERTOOLS_SERVICE_NAME": name,
                "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
                "POWERTOOLS_LOG_LEVEL": "INFO",
                **environment,
            },
        )
        log_group.grant_write(role)
        acknowledge_wildcard_resources(
            role,
            ["*", log_group.log_group_arn],
            "X-Ray's PutTraceSegments and PutTelemetryRecords accept only Resource '*' (AWS requires it); the "
            "log group ARN ends in ':*' so that the function can write its own log streams, nothing else.",
        )
        for check_id, reason in _CHECKOV_SKIPS.items():
            if not (network and check_id == "CKV_AWS_117"):
                skip_checkov(function, check_id, reason)
        if network:
            acknowledge_managed_policies(
                role,
                ["service-role/AWSLambdaVPCAccessExecutionRole"],
                "AWSLambdaVPCAccessExecutionRole is what Lambda needs to attach a function to the cluster's VPC "
                "(network interfaces, which EC2 grants only on Resource '*'); CDK adds it for functions in a VPC.",
            )
        if name not in ASYNC_FUNCTIONS:
            skip_checkov(function, "CKV_AWS_116", _CHECKOV_SYNC_DLQ_REASON)
        return function

    def _attach(self, name: str, *policies: iam.IManagedPolicy) -> None:
        role = self.functions[name].role
        assert role is not None  # every function gets its own role above
        for policy in policies:
            role.add_managed_policy(policy)

    def _allow(self, name: str, actions: list[str], resources: list[str]) -> None:
        self.functions[name].add_to_role_policy(iam.PolicyStatement(actions=actions, resources=resources))


def _backend_env(cluster: TrainingCluster | None) -> dict[str, str]:
    """The cluster backend's settings (lambdas/runtime.py ClusterEnv): the scripted fake without a cluster."""
    if cluster is None:
        return {"CLUSTER_BACKEND": "fake"}
    return {
        "CLUSTER_BACKEND": "hyperpod",
        "HYPERPOD_CLUSTER_NAME": cluster.hyperpod_name,
        "INSTANCE_GROUP": cluster.instance_group,
        "RESTING_COUNT": str(cluster.resting_count),
        "CAPACITY_MODE": cluster.capacity_mode,
    }
