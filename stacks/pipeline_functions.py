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

from stacks.lambda_bundle import RUNTIME, pipeline_code
from stacks.nag import acknowledge_wildcard_resources
from stacks.storage_access import BucketAccessPolicies

METRICS_NAMESPACE: Final = "NovaCpt"


@dataclass(frozen=True)
class FunctionSpec:
    """Sizing of one function, chosen for its worst input."""

    handler: str
    memory_mb: int
    timeout: Duration
    description: str


# Memory and timeouts (worst input):
# - ValidateDataset streams one dataset through the validator: ~1 GB/s of CPU work on one core
#   (make bench) but S3 streaming from one connection is the limit (~100-200 MB/s assumed), so
#   15 minutes covers ~90-180 GB; 4 GB of memory gives 2+ vCPUs for S3 reads alongside the
#   scan and room for 8-16 bytes a record of duplicate hashes (~250M records).
# - ArchiveOutputs copies and re-reads (checksums) the manifest and TensorBoard logs: minutes.
# - ValidateRecipe reads a 1 MiB recipe at most and checks a few S3 paths: seconds.
# - The others call one API or compute a few numbers.
SPECS: Final = {
    "ValidateRecipe": FunctionSpec("lambdas.validate_recipe.handler", 512, Duration.seconds(60), "Validate the recipe"),
    "ValidateDataset": FunctionSpec(
        "lambdas.validate_dataset.handler", 4096, Duration.minutes(15), "Validate one JSONL dataset from S3"
    ),
    "Estimate": FunctionSpec("lambdas.estimate.handler", 256, Duration.seconds(30), "Estimate hours and budget"),
    "PrepareCapacity": FunctionSpec("lambdas.capacity.prepare", 256, Duration.seconds(60), "Scale the cluster up"),
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
        budget_instance_hours: float | None,
        price_per_instance_hour: float | None,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self._code = pipeline_code()
        self._retention = log_retention
        self.functions: dict[str, lambda_.Function] = {}
        deployment = {
            "ACCOUNT_ID": stack.account,
            "REGION": stack.region,
            "DATA_BUCKET": data_bucket.bucket_name,
            "OUTPUT_BUCKET": output_bucket.bucket_name,
            "ARCHIVE_BUCKET": archive_bucket.bucket_name,
        }
        cluster = {"CLUSTER_BACKEND": "fake"}
        estimate = {}
        if budget_instance_hours is not None:
            estimate["BUDGET_INSTANCE_HOURS"] = str(budget_instance_hours)
        if price_per_instance_hour is not None:
            estimate["PRICE_PER_INSTANCE_HOUR"] = str(price_per_instance_hour)
        poll = {"POLL_INTERVAL_SECONDS": str(poll_interval_seconds), "MAX_POLL_SECONDS": str(max_poll_seconds)}
        env = {
            "ValidateRecipe": deployment,
            "ValidateDataset": deployment,
            "Estimate": estimate,
            "PrepareCapacity": cluster,
            "ReleaseCapacity": cluster,
            "SubmitJob": cluster,
            "PollJob": {**cluster, **poll},
            "CancelJob": cluster,
            "ArchiveOutputs": deployment,
            "Notify": {"TOPIC_ARN": topic.topic_arn},
            "Trigger": {},
        }
        for name, spec in SPECS.items():
            self.functions[name] = self._function(name, spec, env[name])

        self._attach("ValidateRecipe", access.read_data, access.write_archive, access.locate_buckets)
        self._attach("ValidateDataset", access.read_data, access.write_archive)
        self._attach("ArchiveOutputs", access.read_outputs, access.write_archive)
        self._allow("Notify", ["sns:Publish"], [topic.topic_arn])
        self._allow("Notify", ["kms:Decrypt", "kms:GenerateDataKey"], [topic_key.key_arn])

    def _function(self, name: str, spec: FunctionSpec, environment: dict[str, str]) -> lambda_.Function:
        log_group = logs.LogGroup(self, f"{name}Logs", retention=self._retention, removal_policy=RemovalPolicy.DESTROY)
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
        return function

    def _attach(self, name: str, *policies: iam.IManagedPolicy) -> None:
        role = self.functions[name].role
        assert role is not None  # every function gets its own role above
        for policy in policies:
            role.add_managed_policy(policy)

    def _allow(self, name: str, actions: list[str], resources: list[str]) -> None:
        self.functions[name].add_to_role_policy(iam.PolicyStatement(actions=actions, resources=resources))
