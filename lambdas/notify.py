"""Notify states: publish the run's outcome to the SNS topic."""

from __future__ import annotations

from typing import Any

import boto3
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict

from lambdas.events import OutcomeEvent
from lambdas.runtime import env, metrics, pipeline_handler
from novacpt.adapters.kubernetes_jobs import cluster_log_group
from novacpt.kernel.errors import TransientError, is_transient
from novacpt.steps.notify import build_message


class NotifyEnv(BaseModel):
    """Where notifications go, and the cluster's log group to point at."""

    model_config = ConfigDict(extra="ignore")
    topic_arn: str
    hyperpod_cluster_name: str = ""
    hyperpod_cluster_arn: str = ""

    @property
    def cluster_log_group(self) -> str | None:
        """The HyperPod cluster's log group, when the deployment has a cluster."""
        if not (self.hyperpod_cluster_name and self.hyperpod_cluster_arn):
            return None
        return cluster_log_group(self.hyperpod_cluster_name, self.hyperpod_cluster_arn)


@pipeline_handler(OutcomeEvent)
def handler(event: OutcomeEvent, context: LambdaContext) -> dict[str, Any]:
    """Publish one message; return it too (it shows in the execution history)."""
    settings = env(NotifyEnv)
    subject, body = build_message(
        event.state, succeeded=event.succeeded, execution_arn=event.execution_arn, log_group=settings.cluster_log_group
    )
    try:
        boto3.client("sns").publish(TopicArn=settings.topic_arn, Subject=subject, Message=body)
    except (ClientError, BotoCoreError) as exc:
        if is_transient(exc):
            raise TransientError(f"SNS Publish to {settings.topic_arn}: {exc}, retrying") from exc
        raise
    metrics.add_metric(name="RunsSucceeded" if event.succeeded else "RunsFailed", unit="Count", value=1)
    return {"subject": subject, "message": body}
