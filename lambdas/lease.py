"""JoinQueue and AcquireLease (run state machine), ScaleDown (release workflow), WatchCapacity (every 5 minutes)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from lambdas.runtime import cluster, execution_alive, lease_table, logger, metrics, pipeline_handler, s3, settings
from novacpt.contract import AcquireInput, JoinQueueInput, ScaleDownInput
from novacpt.kernel.settings import QueueSettings, ScaleDownSettings, WatchSettings
from novacpt.steps.lease import Bound, acquire_lease_step, join_queue_step, scale_down_step
from novacpt.steps.versions import require_unchanged


def _now() -> datetime:
    return datetime.now(UTC)


@pipeline_handler(JoinQueueInput)
def join(event: JoinQueueInput, context: LambdaContext) -> dict[str, Any]:
    """Wait in line for the cluster from the run's start."""
    return join_queue_step(
        lease_table(), execution=event.execution_name, execution_arn=event.execution_arn, started_at=event.started_at
    )


@pipeline_handler(AcquireInput)
def acquire(event: AcquireInput, context: LambdaContext) -> dict[str, Any]:
    """Take the cluster's lease, or say where the run stands in line (ClusterBusy once it waited too long).

    A dataset replaced since validation fails the run here (DatasetChanged), before it takes any capacity.
    """
    require_unchanged(s3(), event.datasets)
    config = settings(QueueSettings)
    bound = Bound(config.poll_interval_seconds, config.max_queue_seconds)
    return acquire_lease_step(lease_table(), event.recipe, event.lease, bound, now=_now(), alive=execution_alive)


@pipeline_handler(ScaleDownInput)
def scale_down(event: ScaleDownInput, context: LambdaContext) -> dict[str, Any]:
    """One look of the release workflow: scale to rest, then end the lease (ReleaseStuck after the bound)."""
    config = settings(ScaleDownSettings)
    bound = Bound(config.poll_interval_seconds, config.max_release_seconds)
    return scale_down_step(lease_table(), cluster(), event.owner, bound, started_at=event.started_at, now=_now())


@pipeline_handler(BaseModel)
def watch(event: BaseModel, context: LambdaContext) -> dict[str, Any]:
    """Metrics for the alarm and dashboard: unowned instances, whether the lease is held, runs in line."""
    table = lease_table()
    lease = table.lease()
    queued = len(table.queue())
    status = cluster().capacity_status()
    above_rest = max(status.target, status.in_service) - settings(WatchSettings).resting_count
    unowned = max(0, above_rest) if lease is None else 0
    metrics.add_metric(name="UnownedInstances", unit="Count", value=unowned)
    metrics.add_metric(name="LeaseHeld", unit="Count", value=0 if lease is None else 1)
    metrics.add_metric(name="QueuedRuns", unit="Count", value=queued)
    if unowned:
        logger.warning("instances with no lease owner", extra={"instances": unowned, "capacity": str(status)})
    return {"unowned_instances": unowned, "lease_owner": lease.owner if lease else None, "queued_runs": queued}
