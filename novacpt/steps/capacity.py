"""PrepareCapacity and its wait loop (CheckCapacity)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from novacpt.catalog import INSTANCE_TYPE
from novacpt.contract import CapacityState, RecipeSummary
from novacpt.kernel.errors import CapacityUnavailable
from novacpt.kernel.ports import CapacityBackend


@dataclass(frozen=True, slots=True)
class CapacityWait:
    """How the run waits for its instances: poll interval, the bound, and where the capacity comes from."""

    interval_seconds: int
    max_seconds: float
    zone: str = ""
    training_plan: bool = False


def _now() -> datetime:
    return datetime.now(UTC)


def prepare_capacity_step(backend: CapacityBackend, recipe: RecipeSummary, wait: CapacityWait) -> CapacityState:
    """Ask for the recipe's replicas; the result says whether they are in service and when the wait began."""
    ready = backend.prepare_capacity(recipe.replicas)
    return CapacityState(
        replicas=recipe.replicas,
        ready=ready,
        requested_at=_now().isoformat(),
        waited_seconds=0,
        interval_seconds=wait.interval_seconds,
    )


def check_capacity_step(backend: CapacityBackend, capacity: CapacityState, wait: CapacityWait) -> CapacityState:
    """Look again (asking again only if no update is under way); CapacityUnavailable once the wait is over."""
    ready = backend.prepare_capacity(capacity.replicas)
    waited = (_now() - datetime.fromisoformat(capacity.requested_at)).total_seconds()
    if not ready and waited >= wait.max_seconds:
        raise CapacityUnavailable(_unavailable(backend, capacity.replicas, wait))
    return capacity.model_copy(
        update={"ready": ready, "waited_seconds": round(waited), "interval_seconds": wait.interval_seconds}
    )


def _unavailable(backend: CapacityBackend, replicas: int, wait: CapacityWait) -> str:
    plan_state = ", set now: is it active?" if wait.training_plan else ""
    plan = f"a SageMaker training plan (nova-cpt:training_plan_arn{plan_state})"
    zone = f", now {wait.zone}" if wait.zone else ""
    return (
        f"{replicas} x {INSTANCE_TYPE} were not in service after {wait.max_seconds / 60:g} minutes "
        f"({backend.capacity_status()}); the capacity is being released. P5 capacity is short: put the restricted "
        f"instance group in the availability zone that has it (nova-cpt:rig_availability_zone{zone}), reserve it "
        f"with {plan}, lower run.replicas, or wait longer (nova-cpt:max_capacity_wait_minutes)"
    )
