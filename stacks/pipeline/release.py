"""The release workflow: scale a lease owner's instance group back to rest, then end its lease; it cannot be lost.

Started by the run's success and failure paths and by the clean-up of aborted runs, with a name
fixed per owner (`novacpt.steps.lease.release_name`), so a second start changes nothing.
ScaleDown looks, asks for the resting size when the cluster is not updating, and ends the lease
once the group is there; a scale-up still in flight (ClusterBusy) or throttling only means "look
again". After `max_release_hours` it fails (ReleaseStuck), and its alarm fires.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from novacpt.contract import ScaleDownInput
from stacks.pipeline.payload import payload
from stacks.pipeline.state_machine import TRANSIENT_ERRORS
from stacks.shared.nag import acknowledge_wildcard_resources


class ReleaseStateMachine(Construct):
    """ScaleDown -> (wait, ScaleDown) until the group is at rest and the lease ended, or the bound is reached."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        scale_down: lambda_.IFunction,
        max_release_hours: float,
        log_retention: logs.RetentionDays,
        log_key: kms.IKey | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        look = tasks.LambdaInvoke(
            self,
            "ScaleDown",
            lambda_function=scale_down,
            payload=payload(ScaleDownInput, owner=sfn.JsonPath.string_at("$.owner")),  # the workflow's input
            payload_response_only=True,
            retry_on_service_exceptions=False,
            result_path="$.scale",
        )
        look.add_retry(
            errors=TRANSIENT_ERRORS,
            interval=Duration.seconds(5),
            backoff_rate=2,
            max_attempts=6,
            max_delay=Duration.minutes(2),
            jitter_strategy=sfn.JitterType.FULL,
        )
        failed = sfn.Fail(self, "ReleaseFailed", error_path="$.error.Error", cause_path="$.error.Cause")
        look.add_catch(failed, errors=["States.ALL"], result_path="$.error")
        wait = sfn.Wait(self, "WaitToScaleDown", time=sfn.WaitTime.seconds_path("$.scale.interval_seconds"))
        done = (
            sfn.Choice(self, "AtRest")
            .when(sfn.Condition.boolean_equals("$.scale.done", True), sfn.Succeed(self, "Released"))
            .otherwise(wait)
        )
        wait.next(look)
        log_group = logs.LogGroup(
            self, "Logs", retention=log_retention, encryption_key=log_key, removal_policy=RemovalPolicy.DESTROY
        )
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            definition_body=sfn.DefinitionBody.from_chainable(look.next(done)),
            comment="Nova CPT release: scale the P5 instance group of a lease owner to rest, then end the lease",
            timeout=Duration.minutes(int(max_release_hours * 60) + 60),
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
        )
        acknowledge_wildcard_resources(
            self.state_machine,
            ["*", f"{scale_down.function_arn}:*"],
            "Resource '*' is required by X-Ray (PutTraceSegments) and by CloudWatch Logs vended-log delivery, which "
            "accept no other resource; '<function ARN>:*' is how CDK grants invoking the function's versions.",
        )
