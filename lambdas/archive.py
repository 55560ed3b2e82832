"""ArchiveOutputs state: on success and, for what exists, on failure."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from lambdas.runtime import deployment, logger, metrics, s3, tracer
from novacpt.pipeline.archive_step import archive_step


class ArchiveEvent(BaseModel):
    """The whole state of the run, its outcome and its execution."""

    state: dict[str, Any]
    succeeded: bool
    execution_arn: str


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=ArchiveEvent)
def handler(event: ArchiveEvent, context: LambdaContext) -> dict[str, Any]:
    """Copy outputs to the archive and write run.json."""
    return archive_step(s3(), deployment(), event.state, succeeded=event.succeeded, execution_arn=event.execution_arn)
