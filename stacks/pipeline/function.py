"""One pipeline Lambda function as a construct: its spec, its settings-built environment, its role and grants."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from novacpt.kernel.settings import Settings
from stacks.cluster.training_cluster import JobNetwork
from stacks.shared.bundling import RUNTIME
from stacks.shared.nag import acknowledge_managed_policies, acknowledge_wildcard_resources, skip_checkov

METRICS_NAMESPACE: Final = "NovaCpt"

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
    """One function: its name (written only here), handler, settings model, and sizing for its worst input."""

    name: str
    handler: str
    settings: type[Settings]
    memory_mb: int
    timeout: Duration
    description: str
    asynchronous: bool = False  # invoked by EventBridge (a dead-letter queue), not by the run state machine
    # An asynchronous function without a dead-letter queue says why here (a reviewed checkov skip).
    no_dead_letters: str = ""
    in_cluster_network: bool = False  # calls the cluster's Kubernetes API, from the cluster's subnets


class PipelineFunction(Construct):
    """A function of `spec`: its own role and encrypted log group, JSON logs, tracing, least privilege.

    The environment is built from `spec.settings` (or a narrower `settings`, for a pipeline without a
    training cluster), which the function's handler parses: the two cannot drift apart.
    """

    def __init__(
        self,
        scope: Construct,
        spec: FunctionSpec,
        *,
        code: lambda_.Code,
        log_key: kms.IKey,
        log_retention: logs.RetentionDays,
        settings: dict[str, Any],
        settings_model: type[Settings] | None = None,
        network: JobNetwork | None = None,
    ) -> None:
        super().__init__(scope, spec.name)
        self.spec = spec
        log_group = logs.LogGroup(
            self, "Logs", retention=log_retention, encryption_key=log_key, removal_policy=RemovalPolicy.DESTROY
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Nova CPT pipeline: {spec.description}",
        )
        self.function = lambda_.Function(
            self,
            "Default",  # the function keeps the logical id of its construct path (Functions<Name>)
            runtime=RUNTIME,
            architecture=lambda_.Architecture.X86_64,
            code=code,
            handler=spec.handler,
            memory_size=spec.memory_mb,
            timeout=spec.timeout,
            description=f"Nova CPT pipeline: {spec.description}",
            role=self.role,
            log_group=log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            tracing=lambda_.Tracing.ACTIVE,
            vpc=network.vpc if network else None,
            vpc_subnets=network.subnets if network else None,
            security_groups=[network.security_group] if network else None,
            environment={
                "POWERTOOLS_SERVICE_NAME": spec.name,
                "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
                "POWERTOOLS_LOG_LEVEL": "INFO",
                **(settings_model or spec.settings).environment_of(**settings),
            },
        )
        log_group.grant_write(self.role)
        acknowledge_wildcard_resources(
            self.role,
            ["*", log_group.log_group_arn],
            "X-Ray's PutTraceSegments and PutTelemetryRecords accept only Resource '*' (AWS requires it); the "
            "log group ARN ends in ':*' so that the function can write its own log streams, nothing else.",
        )
        for check_id, reason in _CHECKOV_SKIPS.items():
            if not (network and check_id == "CKV_AWS_117"):
                skip_checkov(self.function, check_id, reason)
        if network:
            acknowledge_managed_policies(
                self.role,
                ["service-role/AWSLambdaVPCAccessExecutionRole"],
                "AWSLambdaVPCAccessExecutionRole is what Lambda needs to attach a function to the cluster's VPC "
                "(network interfaces, which EC2 grants only on Resource '*'); CDK adds it for functions in a VPC.",
            )
        if not spec.asynchronous:
            skip_checkov(self.function, "CKV_AWS_116", _CHECKOV_SYNC_DLQ_REASON)
        elif spec.no_dead_letters:
            skip_checkov(self.function, "CKV_AWS_116", spec.no_dead_letters)

    def attach(self, *policies: iam.IManagedPolicy) -> None:
        """Give the function these managed policies (the storage stack's bucket access)."""
        for policy in policies:
            self.role.add_managed_policy(policy)

    def allow(self, actions: list[str], resources: list[str], conditions: dict[str, Any] | None = None) -> None:
        """Allow `actions` on `resources` (and nothing else)."""
        self.function.add_to_role_policy(
            iam.PolicyStatement(actions=actions, resources=resources, conditions=conditions)
        )
