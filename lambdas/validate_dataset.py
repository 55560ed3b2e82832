"""ValidateDataset state (one per dataset): stream it from S3 through the validator."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from lambdas.runtime import deployment, logger, metrics, s3, tracer
from novacpt.pipeline.dataset_step import validate_dataset_step


class ValidateDatasetEvent(BaseModel):
    """One dataset of the run and the recipe's limits."""

    run_id: str
    role: str
    uri: str
    max_length: int
    global_batch_size: int
    max_epochs: int


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=ValidateDatasetEvent)
def handler(event: ValidateDatasetEvent, context: LambdaContext) -> dict[str, Any]:
    """A summary of the dataset (DatasetInvalid with the first bad lines when it breaks a rule)."""
    summary = validate_dataset_step(
        s3(),
        deployment(),
        run_id=event.run_id,
        role=event.role,
        uri=event.uri,
        limits=event.model_dump(include={"max_length", "global_batch_size", "max_epochs"}),
    )
    metrics.add_metric(name="RecordsValidated", unit="Count", value=summary["records"])
    return summary
