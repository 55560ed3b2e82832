"""The pipeline's Lambda functions: each one's spec (name, handler, settings model, sizing) and its grants."""

from __future__ import annotations

from typing import Any, Final

from aws_cdk import Duration, Stack
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct

from novacpt.jobs.manifests import DEFAULT_NAMESPACE
from novacpt.kernel.settings import (
    CapacitySettings,
    CapacityWaitSettings,
    CleanupSettings,
    ClusterSettings,
    DatasetSettings,
    Deployment,
    EstimateSettings,
    JobSettings,
    MergeSettings,
    NotifySettings,
    PollSettings,
    PollTimingSettings,
    PreflightSettings,
    RecipeSettings,
    Settings,
    TriggerSettings,
)
from stacks.cluster.dependencies import JOB_GROUP
from stacks.cluster.eks import access_entry, eks_cluster_arn
from stacks.cluster.training_cluster import TrainingCluster
from stacks.pipeline.function import METRICS_NAMESPACE, FunctionSpec, PipelineFunction
from stacks.shared.bundling import pipeline_code
from stacks.shared.log_key import logs_key
from stacks.shared.nag import acknowledge_wildcard_resources
from stacks.storage.access import BucketAccessPolicies

__all__ = ["METRICS_NAMESPACE", "SPECS", "FunctionSpec", "PipelineFunctions"]

# Memory and timeouts (worst input):
# - ValidateShard scans one shard (at most validation_shard_gib, 16 GiB by default) read with 8
#   parallel ranged GETs: the validator does 0.12 GB/s on one core on its slowest shape (short
#   \uXXXX-escaped Japanese lines; make bench, on a shared machine), so a full shard takes ~2.5 min
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
RELEASE_CAPACITY: Final = FunctionSpec(
    "ReleaseCapacity", "lambdas.capacity.release", ClusterSettings, 256, _MINUTE, "Scale the cluster down"
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
SPECS: Final = {
    spec.name: spec
    for spec in (
        VALIDATE_RECIPE,
        PLAN_VALIDATION,
        VALIDATE_SHARD,
        COUNT_DUPLICATES,
        MERGE_REPORTS,
        ESTIMATE,
        PREFLIGHT,
        PREPARE_CAPACITY,
        RELEASE_CAPACITY,
        SUBMIT_JOB,
        POLL_JOB,
        CANCEL_JOB,
        ARCHIVE_OUTPUTS,
        NOTIFY,
        TRIGGER,
    )
}
"""Every function of the pipeline, by name (CleanUpAborted comes with a training cluster)."""
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
            PREPARE_CAPACITY.name: (wait, CapacityWaitSettings),
            RELEASE_CAPACITY.name: ({}, Settings),
            SUBMIT_JOB.name: ({}, Settings),
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
            values |= {
                PREFLIGHT.name: (group | jobs, None),
                PREPARE_CAPACITY.name: (group | wait | where, None),
                RELEASE_CAPACITY.name: (group, None),
                SUBMIT_JOB.name: (jobs, None),
                POLL_JOB.name: (jobs | poll, None),
                CANCEL_JOB.name: (jobs, None),
                CLEAN_UP_ABORTED.name: (group | jobs, None),
            }
        network = cluster.network if cluster else None
        specs = [*SPECS.values(), *([CLEAN_UP_ABORTED] if cluster is not None else [])]
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
        for spec in (PREPARE_CAPACITY, RELEASE_CAPACITY, CLEAN_UP_ABORTED):
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
        # The recipe travels in the run state, so SubmitJob reads no S3; the abort clean-up finds the job's
        # name in the recipe the run archived (runs/<execution>/recipe.yaml).
        self[CLEAN_UP_ABORTED].attach(access.write_archive)
