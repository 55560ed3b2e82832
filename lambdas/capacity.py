"""PrepareCapacity and ReleaseCapacity states."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from lambdas.runtime import cluster, logger, metrics, tracer
from novacpt.pipeline.job_step import prepare_capacity_step


class PrepareEvent(BaseModel):
    """The run summary."""

    recipe: dict[str, Any]


class ReleaseEvent(BaseModel):
    """The whole state of the run, at whatever point it ended."""

    state: dict[str, Any]


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=PrepareEvent)
def prepare(event: PrepareEvent, context: LambdaContext) -> dict[str, Any]:
    """Scale the cluster to the recipe's replicas."""
    return prepare_capacity_step(cluster(), event.recipe)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=ReleaseEvent)
def release(event: ReleaseEvent, context: LambdaContext) -> dict[str, Any]:
    """Return the cluster to its resting size; safe to call on every path, any number of times."""
    cluster().release_capacity()
    return {"released": True}
