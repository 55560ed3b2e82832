"""Starts a run when a recipe lands at `jobs/<job>/recipe.yaml` in the data bucket (EventBridge)."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from stacks.nag import acknowledge, skip_checkov


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
        trigger.add_environment("STATE_MACHINE_ARN", state_machine.state_machine_arn)
        state_machine.grant_start_execution(trigger)
        self.dead_letters = sqs.Queue(
            self,
            "DeadLetters",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        acknowledge(
            self.dead_letters,
            "AwsSolutions-SQS3",
            "This queue is itself the dead-letter queue of the recipe-drop rule's target: it holds S3 events "
            "whose run could not be started, for inspection; it needs no dead-letter queue of its own.",
        )
        skip_checkov(
            self.dead_letters,
            "CKV_AWS_27",
            "Encrypted at rest with SQS managed keys (SqsManagedSseEnabled), which this check does not recognise "
            "(it wants KmsMasterKeyId); the AWS managed aws/sqs key cannot be used, since EventBridge cannot send to "
            "a queue encrypted with it, and the messages are S3 event metadata (bucket, key, version), no data.",
        )
        # EventBridge invokes the function asynchronously: the rule's dead-letter queue keeps events it
        # could not deliver, the function's keeps those whose invocation still failed after Lambda's retries.
        cfn_trigger = trigger.node.default_child
        if not isinstance(cfn_trigger, lambda_.CfnFunction):  # pragma: no cover - CDK invariant
            raise TypeError("the trigger function has no CfnFunction default child")
        cfn_trigger.dead_letter_config = lambda_.CfnFunction.DeadLetterConfigProperty(
            target_arn=self.dead_letters.queue_arn
        )
        trigger.add_to_role_policy(
            iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[self.dead_letters.queue_arn])
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
