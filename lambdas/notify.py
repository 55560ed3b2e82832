"""Notify states: publish the run's outcome to the SNS topic."""

from __future__ import annotations

from typing import Any

import boto3
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict

from lambdas.events import OutcomeEvent
from lambdas.runtime import env, metrics, pipeline_handler
from novacpt.pipeline.notify_step import build_message


class NotifyEnv(BaseModel):
    """Where notifications go, and the cluster's log group to point at."""

    model_config = ConfigDict(extra="ignore")
    topic_arn: str
    cluster_log_group: str | None = None


@pipeline_handler(OutcomeEvent)
def handler(event: OutcomeEvent, context: LambdaContext) -> dict[str, Any]:
    """Publish one message; return it too (it shows in the execution history)."""
    settings = env(NotifyEnv)
    subject, body = build_message(
        event.state, succeeded=event.succeeded, execution_arn=event.execution_arn, log_group=settings.cluster_log_group
    )
    boto3.client("sns").publish(TopicArn=settings.topic_arn, Subject=subject, Message=body)
    metrics.add_metric(name="RunsSucceeded" if event.succeeded else "RunsFailed", unit="Count", value=1)
    return {"subject": subject, "message": body}
