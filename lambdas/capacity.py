"""PrepareCapacity and CheckCapacity (one function), ReleaseCapacity, and the clean-up of aborted executions."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field

from lambdas.events import StateEvent
from lambdas.runtime import cluster, deployment, env, logger, pipeline_handler, s3
from novacpt.steps.capacity import CapacityWait, aborted_step, check_capacity_step, prepare_capacity_step


class CapacityEnv(BaseModel):
    """How long and how often to wait for the instances, and where they come from (for the failure message)."""

    model_config = ConfigDict(extra="ignore")
    poll_interval_seconds: int = Field(ge=0)
    max_capacity_wait_seconds: float = Field(gt=0)
    capacity_zone: str = ""
    training_plan: bool = False


class PrepareEvent(BaseModel):
    """The run summary; after the first call also the capacity state it returned (the wait loop)."""

    recipe: dict[str, Any]
    capacity: dict[str, Any] | None = None


@pipeline_handler(PrepareEvent)
def prepare(event: PrepareEvent, context: LambdaContext) -> dict[str, Any]:
    """Ask for the recipe's replicas (PrepareCapacity), or look again (CheckCapacity, CapacityUnavailable when late)."""
    settings = env(CapacityEnv)
    wait = CapacityWait(
        interval_seconds=settings.poll_interval_seconds,
        max_seconds=settings.max_capacity_wait_seconds,
        zone=settings.capacity_zone,
        training_plan=settings.training_plan,
    )
    if event.capacity is None:
        return prepare_capacity_step(cluster(), event.recipe, wait)
    return check_capacity_step(cluster(), event.capacity, wait)


@pipeline_handler(StateEvent)
def release(event: StateEvent, context: LambdaContext) -> dict[str, Any]:
    """Return the cluster to its resting size; safe to call on every path, any number of times."""
    cluster().release_capacity()
    return {"released": True}


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
def aborted(event: AbortedEvent, context: LambdaContext) -> dict[str, Any]:
    """An execution ended without its clean-up path: cancel its job and release the capacity."""
    detail = event.detail
    logger.info("execution ended without its clean-up path", extra={"execution": detail.name, "status": detail.status})
    return aborted_step(cluster(), s3(), deployment().archive_bucket, detail.name)
