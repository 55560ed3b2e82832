"""S3 Object Created (EventBridge) -> one execution per uploaded recipe version, named deterministically."""

from __future__ import annotations

from typing import Any

import boto3
from aws_lambda_powertools.utilities.parser.models import S3EventNotificationEventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.runtime import logger, metrics, pipeline_handler, settings
from novacpt.contract import ExecutionInput
from novacpt.drop import drop_job
from novacpt.kernel.s3uri import s3_uri
from novacpt.kernel.settings import TriggerSettings
from novacpt.naming import execution_name

S3_SOURCE = "aws.s3"
OBJECT_CREATED = "Object Created"


@pipeline_handler(S3EventNotificationEventBridgeModel)
def handler(event: S3EventNotificationEventBridgeModel, context: LambdaContext) -> dict[str, Any]:
    """Start the run for `jobs/<job>/recipe.yaml`; a repeated event for the same version starts nothing."""
    return start_run(event, settings(TriggerSettings), boto3.client("stepfunctions"))


def start_run(event: S3EventNotificationEventBridgeModel, config: TriggerSettings, client: Any) -> dict[str, Any]:
    """The handler's decision and its one StartExecution call (`client` is a Step Functions client)."""
    bucket, key, version = event.detail.bucket.name, event.detail.object.key, event.detail.object.version_id
    # The rule already filters on these; checked again so that no other event (a misconfigured rule, a direct
    # invocation) can start a run.
    if (event.source, event.detail_type, bucket) != (S3_SOURCE, OBJECT_CREATED, config.drop_bucket):
        logger.warning(
            "ignored: not an S3 Object Created event of the data bucket",
            extra={"source": event.source, "detail_type": event.detail_type, "bucket": bucket},
        )
        return {"started": False, "reason": "not an S3 Object Created event of the data bucket"}
    if drop_job(key) is None:
        logger.warning("ignored: not a jobs/<job>/recipe.yaml drop", extra={"key": key})
        return {"started": False, "reason": "not a recipe drop", "key": key}
    name = execution_name(bucket, key, version)
    payload = ExecutionInput(recipe_s3_uri=s3_uri(bucket, key), source_version_id=version)
    try:
        answer = client.start_execution(
            stateMachineArn=config.state_machine_arn, name=name, input=payload.model_dump_json()
        )
    except client.exceptions.ExecutionAlreadyExists:
        logger.info("execution already exists: repeated event", extra={"execution": name})
        return {"started": False, "reason": "already started", "execution_name": name}
    metrics.add_metric(name="RunsTriggered", unit="Count", value=1)
    return {"started": True, "execution_name": name, "execution_arn": answer["executionArn"]}
