"""PrepareCapacity and CheckCapacity (one function), ReleaseCapacity, and the clean-up of aborted executions."""

from __future__ import annotations

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict

from lambdas.events import StateEvent
from lambdas.runtime import cluster, deployment, logger, pipeline_handler, s3, settings
from novacpt.contract import AbortCleanup, CapacityState, RecipeSummary, ReleaseResult
from novacpt.kernel.settings import CapacityWaitSettings
from novacpt.steps.capacity import CapacityWait, aborted_step, check_capacity_step, prepare_capacity_step


class PrepareEvent(BaseModel):
    """The run summary; after the first call also the capacity state it returned (the wait loop)."""

    recipe: RecipeSummary
    capacity: CapacityState | None = None


@pipeline_handler(PrepareEvent)
def prepare(event: PrepareEvent, context: LambdaContext) -> CapacityState:
    """Ask for the recipe's replicas (PrepareCapacity), or look again (CheckCapacity, CapacityUnavailable when late)."""
    config = settings(CapacityWaitSettings)
    wait = CapacityWait(
        interval_seconds=config.poll_interval_seconds,
        max_seconds=config.max_capacity_wait_seconds,
        zone=config.capacity_zone,
        training_plan=config.training_plan,
    )
    if event.capacity is None:
        return prepare_capacity_step(cluster(), event.recipe, wait)
    return check_capacity_step(cluster(), event.capacity, wait)


@pipeline_handler(StateEvent)
def release(event: StateEvent, context: LambdaContext) -> ReleaseResult:
    """Return the cluster to its resting size; safe to call on every path, any number of times."""
    cluster().release_capacity()
    return ReleaseResult(released=True)


class AbortedDetail(BaseModel):
    """The part of a Step Functions "Execution Status Change" event the clean-up needs."""

    model_config = ConfigDict(extra="ignore")
    name: str
    status: str


class AbortedEvent(BaseModel):
    """An EventBridge event for an execution that was aborted or timed out."""

    model_config = ConfigDict(extra="ignore")
    detail: AbortedDetail


@pipeline_handler(AbortedEvent)
def aborted(event: AbortedEvent, context: LambdaContext) -> AbortCleanup:
    """An execution ended without its clean-up path: cancel its job and release the capacity."""
    detail = event.detail
    logger.info("execution ended without its clean-up path", extra={"execution": detail.name, "status": detail.status})
    return aborted_step(cluster(), s3(), deployment().archive_bucket, detail.name)
