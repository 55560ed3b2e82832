"""SubmitJob, PollJob and CancelJob: thin logic over the cluster backend (capacity: capacity_step)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from novacpt.kernel.errors import JobFailed, JobStuck
from novacpt.kernel.ports import ClusterBackend, JobState


def _now() -> datetime:
    return datetime.now(UTC)


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
    max_stuck_minutes: float = 30.0,
) -> dict[str, Any]:
    """One look at the job: raise JobFailed on failure, JobStuck when a pod has been stuck for longer than
    `max_stuck_minutes` (the job would never fail by itself: it restarts on failure); report a time-out
    instead of waiting forever."""
    status = backend.status(job["job_name"], attempt)
    if status.state is JobState.FAILED:
        raise JobFailed(f"job {job['job_name']} failed: {status.reason or 'no reason given'}")
    if status.state is JobState.RUNNING and status.stuck and status.stuck_minutes > max_stuck_minutes:
        raise JobStuck(
            f"job {job['job_name']} is stuck and is being cancelled (max_stuck_minutes {max_stuck_minutes:g}): "
            f"{status.stuck}"
        )
    elapsed = (_now() - datetime.fromisoformat(job["submitted_at"])).total_seconds()
    timed_out = status.state is JobState.RUNNING and elapsed > max_seconds
    return {
        "state": status.state.value,
        "attempt": attempt + 1,
        "interval_seconds": interval_seconds,
        "timed_out": timed_out,
        "elapsed_seconds": round(elapsed, 1),
        "restarts": status.restarts,
        "stuck": status.stuck,
    }


def cancel_step(backend: ClusterBackend, state: dict[str, Any]) -> dict[str, Any]:
    """Cancel the run's job when it may exist: SubmitJob returned, or it ran (capacity was prepared) and failed.

    A SubmitJob that failed after creating objects leaves no `job` in the state; the job name then comes
    from the run summary. Cancelling a job that does not exist is fine.
    """
    name = (state.get("job") or {}).get("job_name")
    if not name and state.get("capacity"):
        name = (state.get("recipe") or {}).get("job_name")
    if name:
        backend.cancel(str(name))
    return {"cancelled": name or None}
