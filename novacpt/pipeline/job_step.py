"""SubmitJob, PollJob and CancelJob: thin logic over the cluster backend."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from novacpt.pipeline.cluster import ClusterBackend, JobState
from novacpt.pipeline.errors import CapacityUnavailable, JobFailed


def _now() -> datetime:
    return datetime.now(UTC)


def prepare_capacity_step(backend: ClusterBackend, recipe: dict[str, Any]) -> dict[str, Any]:
    """Scale the cluster to the recipe's replicas."""
    ready = backend.prepare_capacity(int(recipe["replicas"]))
    if not ready:
        raise CapacityUnavailable(f"{recipe['replicas']} instances are not in service yet")
    return {"replicas": int(recipe["replicas"]), "ready": True, "at": _now().isoformat()}


def submit_step(backend: ClusterBackend, recipe: dict[str, Any]) -> dict[str, Any]:
    """Start the job; the state keeps its name and start time."""
    backend.submit(recipe["job_name"], recipe)
    return {"job_name": recipe["job_name"], "submitted_at": _now().isoformat()}


def poll_step(
    backend: ClusterBackend,
    job: dict[str, Any],
    attempt: int,
    *,
    interval_seconds: int,
    max_seconds: float,
) -> dict[str, Any]:
    """One look at the job: raise JobFailed on failure; report a time-out instead of waiting forever."""
    status = backend.status(job["job_name"], attempt)
    if status.state is JobState.FAILED:
        raise JobFailed(f"job {job['job_name']} failed: {status.reason or 'no reason given'}")
    elapsed = (_now() - datetime.fromisoformat(job["submitted_at"])).total_seconds()
    timed_out = status.state is JobState.RUNNING and elapsed > max_seconds
    return {
        "state": status.state.value,
        "attempt": attempt + 1,
        "interval_seconds": interval_seconds,
        "timed_out": timed_out,
        "elapsed_seconds": round(elapsed, 1),
    }
