"""Starts a run when a recipe lands at `jobs/<job>/recipe.yaml` in the data bucket (EventBridge)."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from novacpt.kernel.settings import TriggerSettings
from stacks.pipeline.dead_letters import event_dead_letters


class DropTrigger(Construct):
    """Rule on S3 Object Created for recipe drops -> the trigger function (retried; failures kept in a DLQ)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        data_bucket: s3.IBucket,
        trigger: lambda_.Function,
        state_machine: sfn.IStateMachine,
    ) -> None:
        super().__init__(scope, construct_id)
        for name, value in TriggerSettings.environment_of(
            state_machine_arn=state_machine.state_machine_arn,
            drop_bucket=data_bucket.bucket_name,  # checked again
        ).items():
            trigger.add_environment(name, value)
        state_machine.grant_start_execution(trigger)
        self.dead_letters = event_dead_letters(
            self, function=trigger, holds="the S3 events (bucket, key, version) whose run could not be started"
        )
        self.rule = events.Rule(
            self,
            "RecipeDropped",
            description="A recipe was uploaded to jobs/<job>/recipe.yaml in the data bucket: start a run",
            event_pattern=events.EventPattern(
                source=["aws.s3"],
                detail_type=["Object Created"],
                detail={
                    "bucket": {"name": [data_bucket.bucket_name]},
                    "object": {"key": [{"wildcard": "jobs/*/recipe.yaml"}]},
                },
            ),
        )
        self.rule.add_target(
            targets.LambdaFunction(
                trigger,
                retry_attempts=8,
                max_event_age=Duration.hours(2),
                dead_letter_queue=self.dead_letters,
            )
        )
