"""The pipeline's Lambda functions: each one's spec (name, handler, settings model, sizing) and its grants."""

from __future__ import annotations

from typing import Any, Final

from aws_cdk import Arn, ArnFormat, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from novacpt.jobs.manifests import DEFAULT_NAMESPACE
from novacpt.kernel.settings import (
    CapacitySettings,
    CapacityWaitSettings,
    CleanupSettings,
    CleanupTargetSettings,
    DatasetSettings,
    Deployment,
    EstimateSettings,
    JobSettings,
    LeaseSettings,
    MergeSettings,
    NotifySettings,
    PollSettings,
    PollTimingSettings,
    PreflightSettings,
    QueueSettings,
    RecipeSettings,
    ReleaseStartSettings,
    ReleaseTimingSettings,
    ScaleDownSettings,
    Settings,
    TriggerSettings,
    WatchSettings,
)
from stacks.cluster.dependencies import JOB_GROUP
from stacks.cluster.eks import access_entry, eks_cluster_arn
from stacks.cluster.training_cluster import TrainingCluster
from stacks.pipeline.function import METRICS_NAMESPACE, FunctionSpec, PipelineFunction
from stacks.shared.bundling import pipeline_code
from stacks.shared.log_key import logs_key
from stacks.shared.nag import acknowledge_wildcard_resources
from stacks.storage.access import BucketAccessPolicies
from stacks.storage.lease import CapacityLeaseTable

__all__ = ["METRICS_NAMESPACE", "SPECS", "FunctionSpec", "PipelineFunctions"]

# Memory and timeouts (worst input):
# - ValidateShard scans one shard (at most validation_shard_gib, 16 GiB by default) read with 8
#   parallel ranged GETs: the validator does ~0.2 GB/s on one core on its slowest shape (short
#   \uXXXX-escaped Japanese lines; make bench, on a shared machine), so a full shard takes ~1.4 min
#   of CPU; the corpus-quality pass in the same read (near-duplicates, languages, mojibake) runs at
#   ~30 MB/s on that machine, ~9.5 more minutes for a full 16 GiB shard: 15 minutes holds both, with
#   little room; lower validation_shard_gib when shards time out. 4 GB gives 2+ vCPUs (reads beside the
#   scan) and holds ~40 bytes a record at the peak (hashes, rows, upload) plus the quality sketch's
#   ~180: PlanValidation cuts a shard to at most 10 million records (novacpt.steps.dataset).
# - CountDuplicates holds one hash partition (about 4 GiB of data's records, 16 bytes each).
# - MergeReports reads the shards' small summaries.
# - ArchiveOutputs copies and re-reads (checksums) the manifest and TensorBoard logs: minutes.
# - ValidateRecipe reads a 1 MiB recipe at most and checks a few S3 paths: seconds.
# - The others call one API or compute a few numbers.
_MINUTE, _QUARTER = Duration.seconds(60), Duration.minutes(15)
VALIDATE_RECIPE: Final = FunctionSpec(
    "ValidateRecipe", "lambdas.validate_recipe.handler", RecipeSettings, 512, _MINUTE, "Validate the recipe"
)
PLAN_VALIDATION: Final = FunctionSpec(
    "PlanValidation",
    "lambdas.validate_dataset.plan",
    DatasetSettings,
    256,
    _MINUTE,
    "Plan the dataset validation shards",
)
VALIDATE_SHARD: Final = FunctionSpec(
    "ValidateShard",
    "lambdas.validate_dataset.shard",
    Deployment,
    4096,
    _QUARTER,
    "Validate one byte range of a dataset",
)
COUNT_DUPLICATES: Final = FunctionSpec(
    "CountDuplicates",
    "lambdas.validate_dataset.duplicates",
    Deployment,
    4096,
    _QUARTER,
    "Count one hash partition's duplicates",
)
MERGE_REPORTS: Final = FunctionSpec(
    "MergeReports",
    "lambdas.validate_dataset.merge",
    MergeSettings,
    1024,
    Duration.minutes(5),
    "Merge shard reports into dataset reports",
)
ESTIMATE: Final = FunctionSpec(
    "Estimate", "lambdas.estimate.handler", EstimateSettings, 256, Duration.seconds(30), "Estimate hours and budget"
)
PREFLIGHT: Final = FunctionSpec(
    "Preflight",
    "lambdas.preflight.handler",
    PreflightSettings,
    256,
    _MINUTE,
    "Check quota, cluster and add-ons before capacity",
    in_cluster_network=True,
)
PREPARE_CAPACITY: Final = FunctionSpec(
    "PrepareCapacity",
    "lambdas.capacity.prepare",
    CapacitySettings,
    256,
    _MINUTE,
    "Scale the cluster up and check its instances",
)
JOIN_QUEUE: Final = FunctionSpec(
    "JoinQueue", "lambdas.lease.join", LeaseSettings, 256, Duration.seconds(30), "Join the queue for the cluster"
)
ACQUIRE_LEASE: Final = FunctionSpec(
    "AcquireLease",
    "lambdas.lease.acquire",
    QueueSettings,
    256,
    Duration.seconds(30),
    "Take the cluster's lease, or wait in line",
)
RELEASE_CAPACITY: Final = FunctionSpec(
    "ReleaseCapacity",
    "lambdas.capacity.release",
    ReleaseStartSettings,
    256,
    Duration.seconds(30),
    "Leave the queue; start releasing an owned cluster",
)
SCALE_DOWN: Final = FunctionSpec(
    "ScaleDown",
    "lambdas.lease.scale_down",
    ScaleDownSettings,
    256,
    _MINUTE,
    "Scale an owned cluster down, then end its lease",
)
SUBMIT_JOB: Final = FunctionSpec(
    "SubmitJob", "lambdas.job.submit", JobSettings, 256, _MINUTE, "Start the CPT job", in_cluster_network=True
)
POLL_JOB: Final = FunctionSpec(
    "PollJob", "lambdas.job.poll", PollSettings, 256, _MINUTE, "Read the CPT job's state", in_cluster_network=True
)
CANCEL_JOB: Final = FunctionSpec(
    "CancelJob", "lambdas.job.cancel", JobSettings, 256, _MINUTE, "Stop and delete the CPT job", in_cluster_network=True
)
ARCHIVE_OUTPUTS: Final = FunctionSpec(
    "ArchiveOutputs", "lambdas.archive.handler", Deployment, 1024, _QUARTER, "Archive outputs and write run.json"
)
NOTIFY: Final = FunctionSpec(
    "Notify", "lambdas.notify.handler", NotifySettings, 256, Duration.seconds(30), "Publish the run's outcome"
)
TRIGGER: Final = FunctionSpec(
    "Trigger",
    "lambdas.trigger.handler",
    TriggerSettings,
    256,
    Duration.seconds(30),
    "Start a run for a recipe drop",
    asynchronous=True,
)
# Created only with a training cluster (app.py always has one): invoked by the AbortCleanup rule.
CLEAN_UP_ABORTED: Final = FunctionSpec(
    "CleanUpAborted",
    "lambdas.capacity.aborted",
    CleanupSettings,
    256,
    _MINUTE,
    "Cancel the job and release capacity of an aborted run",
    asynchronous=True,
    in_cluster_network=True,
)
# Created only with a training cluster: a schedule invokes it every 5 minutes (the unowned-instances alarm).
WATCH_CAPACITY: Final = FunctionSpec(
    "WatchCapacity",
    "lambdas.lease.watch",
    WatchSettings,
    256,
    _MINUTE,
    "Measure instances no run owns, the lease and the queue",
    asynchronous=True,
    no_dead_letters="No dead-letter queue: a schedule invokes it every 5 minutes with an empty event, so a failed "
    "invocation holds nothing worth keeping (the next one, 5 minutes later, measures again); its failures raise "
    "the WatchCapacityErrors alarm.",
)
SPECS: Final = {
    spec.name: spec
    for spec in (
        JOIN_QUEUE,
        VALIDATE_RECIPE,
        PLAN_VALIDATION,
        VALIDATE_SHARD,
        COUNT_DUPLICATES,
        MERGE_REPORTS,
        ESTIMATE,
        PREFLIGHT,
        ACQUIRE_LEASE,
        PREPARE_CAPACITY,
        RELEASE_CAPACITY,
        SCALE_DOWN,
        SUBMIT_JOB,
        POLL_JOB,
        CANCEL_JOB,
        ARCHIVE_OUTPUTS,
        NOTIFY,
        TRIGGER,
    )
}
"""Every function of the pipeline, by name (CleanUpAborted and WatchCapacity come with a training cluster)."""
LEASE_FUNCTIONS: Final = (
    JOIN_QUEUE.name,
    ACQUIRE_LEASE.name,
    PREPARE_CAPACITY.name,
    RELEASE_CAPACITY.name,
    SCALE_DOWN.name,
)
_SCALE_ACTIONS: Final = ("sagemaker:DescribeCluster", "sagemaker:UpdateCluster")
Values = dict[str, Any]  # settings field values, as the stack knows them (CDK tokens included)


class PipelineFunctions(Construct):
    """Creates every function of SPECS (and CleanUpAborted with a cluster), each with its settings and grants."""

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
        max_queue_seconds: float,
        max_release_seconds: float,
        lease: CapacityLeaseTable,
        max_replicas: int,
        model_type: str,
        quality_bounds: Values | None = None,
        cluster: TrainingCluster | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        code = pipeline_code()
        # CloudWatch Logs encrypts the function and state machine log groups with this key.
        self.log_key = logs_key(self, "LogKey", "Encrypts the Nova CPT pipeline's CloudWatch log groups")
        self.by_name: dict[str, PipelineFunction] = {}
        deployment: Values = {
            "account_id": stack.account,
            "region": stack.region,
            "data_bucket": data_bucket.bucket_name,
            "output_bucket": output_bucket.bucket_name,
            "archive_bucket": archive_bucket.bucket_name,
        }
        wait: Values = {
            "poll_interval_seconds": poll_interval_seconds,
            "max_capacity_wait_seconds": max_capacity_wait_seconds,
        }
        leased: Values = {
            "lease_table": lease.table.table_name,
            "lease_group": f"{cluster.hyperpod_name}/{cluster.instance_group}" if cluster else "no-cluster",
        }
        poll: Values = {
            "poll_interval_seconds": poll_interval_seconds,
            "max_poll_seconds": max_poll_seconds,
            "max_stuck_minutes": max_stuck_minutes,
        }
        # Each function's environment is built from its settings model (the spec's; narrower without a
        # cluster), which its handler parses: the names exist once.
        values: dict[str, tuple[Values, type[Settings] | None]] = {
            VALIDATE_RECIPE.name: ({**deployment, "max_replicas": max_replicas, "model_type": model_type}, None),
            PLAN_VALIDATION.name: ({**deployment, "shard_bytes": shard_bytes}, None),
            VALIDATE_SHARD.name: (deployment, None),
            COUNT_DUPLICATES.name: (deployment, None),
            MERGE_REPORTS.name: ({**deployment, **(quality_bounds or {})}, None),
            ESTIMATE.name: (
                {"budget_instance_hours": budget_instance_hours, "price_per_instance_hour": price_per_instance_hour},
                None,
            ),
            # Without a training cluster (template tests only) the capacity and job functions get only their
            # timings: nothing in the deployed runtime can stand in for the cluster.
            PREFLIGHT.name: ({}, Settings),
            JOIN_QUEUE.name: (leased, None),
            ACQUIRE_LEASE.name: (
                {
                    **deployment,
                    **leased,
                    "poll_interval_seconds": poll_interval_seconds,
                    "max_queue_seconds": max_queue_seconds,
                },
                None,
            ),
            PREPARE_CAPACITY.name: (wait, CapacityWaitSettings),
            RELEASE_CAPACITY.name: (leased, LeaseSettings),  # the release workflow is added by connect_release
            SCALE_DOWN.name: (
                {**leased, "poll_interval_seconds": poll_interval_seconds, "max_release_seconds": max_release_seconds},
                ReleaseTimingSettings,
            ),
            SUBMIT_JOB.name: (deployment, Deployment),  # reads the datasets' versions (DatasetChanged)
            POLL_JOB.name: (poll, PollTimingSettings),
            CANCEL_JOB.name: ({}, Settings),
            ARCHIVE_OUTPUTS.name: (deployment, None),
            NOTIFY.name: (
                {
                    "topic_arn": topic.topic_arn,
                    "hyperpod_cluster_name": cluster.hyperpod_name if cluster else None,
                    "hyperpod_cluster_arn": cluster.hyperpod_arn if cluster else None,
                },
                None,
            ),
            TRIGGER.name: ({}, Settings),  # DropTrigger adds the state machine (TriggerSettings)
        }
        if cluster is not None:
            group: Values = {
                "hyperpod_cluster_name": cluster.hyperpod_name,
                "instance_group": cluster.instance_group,
                "resting_count": cluster.resting_count,
                "capacity_mode": cluster.capacity_mode,
            }
            jobs: Values = {
                **deployment,
                "eks_cluster_name": cluster.eks_name,
                "hyperpod_cluster_name": cluster.hyperpod_name,
                "hyperpod_cluster_arn": cluster.hyperpod_arn,
                "job_namespace": DEFAULT_NAMESPACE,
            }
            where: Values = {"capacity_zone": cluster.zone, "training_plan": cluster.training_plan}
            release_timing = {
                "poll_interval_seconds": poll_interval_seconds,
                "max_release_seconds": max_release_seconds,
            }
            values |= {
                PREFLIGHT.name: (group | jobs, None),
                PREPARE_CAPACITY.name: (group | wait | where | leased, None),
                SCALE_DOWN.name: (group | leased | release_timing, None),
                SUBMIT_JOB.name: (jobs, None),
                POLL_JOB.name: (jobs | poll, None),
                CANCEL_JOB.name: (jobs, None),
                CLEAN_UP_ABORTED.name: (group | jobs | leased, CleanupTargetSettings),
                WATCH_CAPACITY.name: (group | leased, None),
            }
        network = cluster.network if cluster else None
        specs = [*SPECS.values(), *([CLEAN_UP_ABORTED, WATCH_CAPACITY] if cluster is not None else [])]
        for spec in specs:
            settings, model = values[spec.name]
            self.by_name[spec.name] = PipelineFunction(
                self,
                spec,
                code=code,
                log_key=self.log_key,
                log_retention=log_retention,
                settings=settings,
                settings_model=model,
                network=network if spec.in_cluster_network else None,
            )
        if cluster is not None:
            self._cluster_access(cluster, access)
        self[VALIDATE_RECIPE].attach(access.read_data, access.write_archive, access.locate_buckets)
        self[PLAN_VALIDATION].attach(access.read_data)
        self[VALIDATE_SHARD].attach(access.read_data, access.write_archive)
        self[COUNT_DUPLICATES].attach(access.write_archive)
        self[MERGE_REPORTS].attach(access.write_archive)
        self[ARCHIVE_OUTPUTS].attach(access.read_outputs, access.write_archive)
        for name in LEASE_FUNCTIONS:
            self.by_name[name].attach(lease.use)
        # These look whether a dataset was replaced since it was validated (HeadObject); ArchiveOutputs records
        # whether the versions that trained are still the ones validated.
        self[ACQUIRE_LEASE].attach(access.read_data)
        self[SUBMIT_JOB].attach(access.read_data)
        self[ARCHIVE_OUTPUTS].attach(access.read_data)
        if cluster is not None:
            self[CLEAN_UP_ABORTED].attach(lease.use)
            self[WATCH_CAPACITY].attach(lease.read)
        self[NOTIFY].allow(["sns:Publish"], [topic.topic_arn])
        self[NOTIFY].allow(["kms:Decrypt", "kms:GenerateDataKey"], [topic_key.key_arn])

    def __getitem__(self, spec: FunctionSpec) -> PipelineFunction:
        return self.by_name[spec.name]

    @property
    def functions(self) -> dict[str, lambda_.Function]:
        """The Lambda functions, by name."""
        return {name: f.function for name, f in self.by_name.items()}

    def _cluster_access(self, cluster: TrainingCluster, access: BucketAccessPolicies) -> None:
        """SageMaker on the one HyperPod cluster for the capacity functions; its EKS API for the job functions."""
        stack = Stack.of(self)
        passed_role = cluster.execution_role_arn or stack.format_arn(
            service="iam", region="", resource="role", resource_name="*"
        )
        self[WATCH_CAPACITY].allow(["sagemaker:DescribeCluster", "sagemaker:ListClusterNodes"], [cluster.hyperpod_arn])
        for spec in (PREPARE_CAPACITY, SCALE_DOWN):
            function = self[spec]
            actions = [*_SCALE_ACTIONS, "sagemaker:ListClusterNodes"] if spec is PREPARE_CAPACITY else _SCALE_ACTIONS
            function.allow(list(actions), [cluster.hyperpod_arn])
            # UpdateCluster passes the restricted instance group's execution role back to SageMaker.
            function.allow(
                ["iam:PassRole"],
                [passed_role],
                {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            )
            if cluster.execution_role_arn is None:
                acknowledge_wildcard_resources(
                    function.role,
                    [passed_role],
                    "The existing cluster's execution role is not known at synthesis: UpdateCluster may pass "
                    "any role of the account, and only to SageMaker (iam:PassedToService).",
                )
        # Preflight reads the restricted instance group and the P5 quota (ListServiceQuotas has no resource).
        self[PREFLIGHT].allow(["sagemaker:DescribeCluster"], [cluster.hyperpod_arn])
        self[PREFLIGHT].allow(["servicequotas:ListServiceQuotas"], ["*"])
        acknowledge_wildcard_resources(
            self[PREFLIGHT].role,
            ["*"],
            "Service Quotas ListServiceQuotas supports no resource-level permission (Resource '*' is required); "
            "it only reads quota values.",
        )
        for spec in (s for s in (*SPECS.values(), CLEAN_UP_ABORTED) if s.in_cluster_network):
            function = self[spec]
            function.allow(["eks:DescribeCluster"], [eks_cluster_arn(self, cluster.eks_name)])
            access_entry(
                self,
                f"{spec.name}ClusterAccess",
                cluster_name=cluster.eks_name,
                principal_arn=function.role.role_arn,
                policy=None,  # EKS access policies do not reach kubeflow.org objects: RBAC binds the group
                kubernetes_groups=[JOB_GROUP],
            )

    def connect_release(self, release: sfn.IStateMachine) -> None:
        """The functions that start the release workflow (an owner's success, failure or abort)."""
        for spec in (RELEASE_CAPACITY, CLEAN_UP_ABORTED):
            if spec.name in self.by_name:
                self[spec].function.add_environment("RELEASE_STATE_MACHINE_ARN", release.state_machine_arn)
                release.grant_start_execution(self[spec].function)

    def allow_queue_checks(self, run: sfn.StateMachine) -> None:
        """AcquireLease may look whether the run at the head of the queue still runs (DescribeExecution).

        A separate policy: the function's own would make the state machine that invokes it depend on itself.
        """
        stack = Stack.of(self)
        name = Arn.split(run.state_machine_arn, ArnFormat.COLON_RESOURCE_NAME).resource_name
        executions = stack.format_arn(
            service="states", resource="execution", resource_name=f"{name}:*", arn_format=ArnFormat.COLON_RESOURCE_NAME
        )
        policy = iam.Policy(
            self,
            "AcquireLeaseQueueChecks",
            statements=[iam.PolicyStatement(actions=["states:DescribeExecution"], resources=[executions])],
        )
        policy.attach_to_role(self[ACQUIRE_LEASE].role)
        acknowledge_wildcard_resources(
            policy,
            [executions],
            "The executions of the run state machine, whose names are not known in advance: AcquireLease only "
            "describes the one at the head of the queue, to drop it from the line once it has ended.",
        )
