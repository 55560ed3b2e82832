"""Notify states: publish the run's outcome to the SNS topic."""

from __future__ import annotations

import boto3
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError

from lambdas.runtime import metrics, pipeline_handler, settings
from novacpt.adapters.kubernetes_jobs import cluster_log_group
from novacpt.contract import Notification, OutcomeInput
from novacpt.kernel.errors import aws_failure
from novacpt.kernel.settings import NotifySettings
from novacpt.steps.notify import build_message


@pipeline_handler(OutcomeInput)
def handler(event: OutcomeInput, context: LambdaContext) -> Notification:
    """Publish one message; return it too (it shows in the execution history)."""
    config = settings(NotifySettings)
    log_group = None
    if config.hyperpod_cluster_name and config.hyperpod_cluster_arn:
        log_group = cluster_log_group(config.hyperpod_cluster_name, config.hyperpod_cluster_arn)
    note = build_message(event.state, succeeded=event.succeeded, execution_arn=event.execution_arn, log_group=log_group)
    try:
        boto3.client("sns").publish(TopicArn=config.topic_arn, Subject=note.subject, Message=note.message)
    except (ClientError, BotoCoreError) as exc:
        raise aws_failure(f"SNS Publish to {config.topic_arn}", exc, service="SNS") from exc
    metrics.add_metric(name="RunsSucceeded" if event.succeeded else "RunsFailed", unit="Count", value=1)
    return note
