"""PrepareCapacity and CheckCapacity (one function), ReleaseCapacity, and the clean-up of aborted executions."""

from __future__ import annotations

from datetime import UTC, datetime

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict

from lambdas.runtime import cluster, lease_table, logger, pipeline_handler, settings, start_release
from novacpt.contract import AbortCleanup, CapacityInput, CapacityState, ReleaseInput, ReleaseResult
from novacpt.kernel.settings import CapacityWaitSettings
from novacpt.steps.capacity import CapacityWait, check_capacity_step, prepare_capacity_step
from novacpt.steps.lease import aborted_step, release_step, require_owner


@pipeline_handler(CapacityInput)
def prepare(event: CapacityInput, context: LambdaContext) -> CapacityState:
    """Ask for the recipe's replicas (PrepareCapacity), or look again (CheckCapacity, CapacityUnavailable when late)."""
    config = settings(CapacityWaitSettings)
    wait = CapacityWait(
        interval_seconds=config.poll_interval_seconds,
        max_seconds=config.max_capacity_wait_seconds,
        zone=config.capacity_zone,
        training_plan=config.training_plan,
    )
    require_owner(lease_table(), event.execution_name)  # only the lease's owner changes the group's size
    if event.capacity is None:
        return prepare_capacity_step(cluster(), event.recipe, wait)
    return check_capacity_step(cluster(), event.capacity, wait)


@pipeline_handler(ReleaseInput)
def release(event: ReleaseInput, context: LambdaContext) -> ReleaseResult:
    """Leave the queue; if this run owns the lease, start the release workflow. Safe on every path, any number of
    times; a run that never took the lease releases nothing."""
    return ReleaseResult(**release_step(lease_table(), start_release, event.execution_name, now=datetime.now(UTC)))


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
    """An execution ended without its clean-up path: release what it owned (its job, then the group), nothing else."""
    detail = event.detail
    logger.info("execution ended without its clean-up path", extra={"execution": detail.name, "status": detail.status})
    return AbortCleanup(**aborted_step(lease_table(), cluster(), start_release, detail.name, now=datetime.now(UTC)))
