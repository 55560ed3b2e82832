"""ArchiveOutputs state: on success and, for what exists, on failure."""

from __future__ import annotations

from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.runtime import deployment, pipeline_handler, s3
from novacpt.contract import ArchiveState, OutcomeInput
from novacpt.steps.archive import archive_step


@pipeline_handler(OutcomeInput)
def handler(event: OutcomeInput, context: LambdaContext) -> ArchiveState:
    """Copy outputs to the archive and write run.json."""
    return archive_step(s3(), deployment(), event.state, succeeded=event.succeeded, execution_arn=event.execution_arn)
