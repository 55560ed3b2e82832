"""The dead-letter queue of an EventBridge-invoked function: events it could not deliver or handle."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks.shared.nag import acknowledge, skip_checkov


def event_dead_letters(scope: Construct, *, function: lambda_.Function, holds: str) -> sqs.Queue:
    """A queue for both the rule's undelivered events and the function's failed asynchronous invocations.

    `holds` says what the queue keeps (it goes into the acknowledgement reasons).
    """
    queue = sqs.Queue(
        scope,
        "DeadLetters",
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=Duration.days(14),
    )
    acknowledge(
        queue,
        "AwsSolutions-SQS3",
        f"This queue is itself a dead-letter queue: it keeps {holds}, for inspection; it needs no dead-letter "
        "queue of its own.",
    )
    skip_checkov(
        queue,
        "CKV_AWS_27",
        "Encrypted at rest with SQS managed keys (SqsManagedSseEnabled), which this check does not recognise "
        "(it wants KmsMasterKeyId); the AWS managed aws/sqs key cannot be used, since EventBridge cannot send to "
        f"a queue encrypted with it, and the messages are event metadata ({holds}), no data.",
    )
    # EventBridge invokes the function asynchronously: the rule's dead-letter queue keeps events it
    # could not deliver, the function's keeps those whose invocation still failed after Lambda's retries.
    cfn_function = function.node.default_child
    if not isinstance(cfn_function, lambda_.CfnFunction):  # pragma: no cover - CDK invariant
        raise TypeError(f"{function.node.path} has no CfnFunction default child")
    cfn_function.dead_letter_config = lambda_.CfnFunction.DeadLetterConfigProperty(target_arn=queue.queue_arn)
    function.add_to_role_policy(iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[queue.queue_arn]))
    return queue
