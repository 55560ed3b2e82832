"""JoinQueue, AcquireLease (the bounded wait in line), ReleaseCapacity (starts the durable release) and ScaleDown.

Runs on one cluster go one at a time. A run joins the queue when it starts; before it asks for any
capacity it must hold the lease, which only the head of the queue may take. Whatever way the run
ends, ReleaseCapacity leaves the queue and, only if the run owns the lease, starts the release
workflow, whose ScaleDown steps return the group to its resting size and then end the lease. A run
that never took the lease never scales anything.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from novacpt.adapters.lease import LeaseTable, QueueEntry, arrival_key
from novacpt.kernel.errors import ClusterBusy, PipelineError, ReleaseStuck, TransientError
from novacpt.kernel.ports import ClusterBackend

RELEASE_NAME_MAX = 80


@dataclass(frozen=True, slots=True)
class Bound:
    """How often to look again, and for how long at most."""

    interval_seconds: int
    max_seconds: float


def release_name(owner: str) -> str:
    """The release workflow's execution name for `owner`: one per owner, so a second start is a no-op."""
    digest = hashlib.sha256(owner.encode()).hexdigest()[:12]
    return f"release-{digest}-{owner}"[:RELEASE_NAME_MAX]


def join_queue_step(table: LeaseTable, *, execution: str, execution_arn: str, started_at: str) -> dict[str, Any]:
    """Wait in line from the run's start (its place is its start time, so runs started together keep order)."""
    entry = QueueEntry(execution, execution_arn, arrival_key(started_at))
    table.join(entry)
    return {"execution": execution, "execution_arn": execution_arn, "arrived_at": entry.arrived_at}


def acquire_lease_step(
    table: LeaseTable,
    recipe: dict[str, Any],
    lease: dict[str, Any],
    bound: Bound,
    *,
    now: datetime,
    alive: Callable[[QueueEntry], bool],
) -> dict[str, Any]:
    """Take the lease when this run heads the queue and the group is free; ClusterBusy once the wait is over."""
    entry = QueueEntry(lease["execution"], lease["execution_arn"], lease["arrived_at"], int(recipe["replicas"]))
    got = table.try_acquire(entry, job_name=str(recipe["job_name"]), now=now, alive=alive)
    since = str(lease.get("waiting_since") or now.isoformat())
    waited = (now - datetime.fromisoformat(since)).total_seconds()
    state = {
        **lease,
        "acquired": got.acquired,
        "position": got.position,
        "holder": got.lease.owner if got.lease and not got.acquired else "",
        "waiting_since": since,
        "waited_seconds": round(waited),
        "interval_seconds": bound.interval_seconds,
    }
    if got.acquired:
        return {**state, "acquired_at": got.lease.acquired_at if got.lease else ""}
    if waited >= bound.max_seconds:
        ahead = got.lease.describe() if got.lease else f"run {got.head}, ahead in line"
        raise ClusterBusy(
            f"waited {waited / 3600:.1f} h in line for the cluster (position {got.position}; max_queue_hours is "
            f"{bound.max_seconds / 3600:g}) and it is still held by {ahead}; start the run again later, or raise "
            "max_queue_hours in cdk.json"
        )
    return state


def release_step(
    table: LeaseTable, start_release: Callable[[str], str], execution: str, *, now: datetime
) -> dict[str, Any]:
    """Leave the queue; if this run owns the lease, start the release workflow (which scales down, then ends it)."""
    left = table.leave(execution)
    owned = table.start_release(execution, now)
    if owned is None:
        return {"owned": False, "left_queue": left}  # never took the lease: nothing of the group is touched
    return {"owned": True, "left_queue": left, "release": start_release(execution)}


def scale_down_step(
    table: LeaseTable,
    backend: ClusterBackend[Any],
    owner: str,
    bound: Bound,
    *,
    started_at: str,
    now: datetime,
) -> dict[str, Any]:
    """One look of the release workflow: ask for the resting size; once there, end the owner's lease.

    ClusterBusy (a scale-up still in flight) and throttling only mean "look again later"; after the
    bound, ReleaseStuck (the workflow fails and its alarm fires).
    """
    lease = table.lease()
    if lease is None or lease.owner != owner:
        return {"done": True, "owned": False}  # nothing (any more) of this run's to release
    try:
        at_rest = backend.release_capacity()
        reason = ""
    except (ClusterBusy, TransientError) as exc:
        at_rest, reason = False, str(exc)
    if at_rest:
        table.release(owner)
        return {"done": True, "owned": True}
    waited = (now - datetime.fromisoformat(started_at.replace("Z", "+00:00"))).total_seconds()
    if waited >= bound.max_seconds:
        raise ReleaseStuck(
            f"the instance group of run {owner} is not back at its resting size after {waited / 3600:.1f} h "
            f"({backend.capacity_status()}{'; ' + reason if reason else ''}): scale it down by hand, then delete "
            "the lease (README: 'A group without an owner')"
        )
    return {"done": False, "owned": True, "interval_seconds": bound.interval_seconds, "note": reason}


def aborted_step(
    table: LeaseTable,
    backend: ClusterBackend[Any],
    start_release: Callable[[str], str],
    execution: str,
    *,
    now: datetime,
) -> dict[str, Any]:
    """After an execution was aborted or timed out: release only what it owned (its job, then the group)."""
    left = table.leave(execution)
    lease = table.start_release(execution, now)
    if lease is None:
        return {"execution": execution, "owned": False, "left_queue": left, "cancelled": None}
    if lease.job_name:
        backend.cancel(lease.job_name)
    return {
        "execution": execution,
        "owned": True,
        "left_queue": left,
        "cancelled": lease.job_name or None,
        "release": start_release(execution),
    }


def require_owner(table: LeaseTable, execution: str) -> None:
    """Only the lease's owner may change the group's size."""
    lease = table.lease()
    if lease is None or lease.owner != execution:
        holder = lease.describe() if lease else "nobody"
        raise PipelineError(f"run {execution} does not hold the cluster's lease (held by {holder}): not scaling")
