"""SubmitJob, PollJob and CancelJob: thin logic over the cluster backend (capacity: capacity.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from novacpt.contract import CancelResult, PollState, RecipeSummary, RunState, SubmittedJob
from novacpt.kernel.errors import JobFailed, JobStuck
from novacpt.kernel.ports import JobBackend, JobState
from novacpt.recipe import Recipe


def _now() -> datetime:
    return datetime.now(UTC)


def submit_step(backend: JobBackend[Recipe], recipe: RecipeSummary) -> SubmittedJob:
    """Start the job with the recipe ValidateRecipe proved; the state keeps its name and start time."""
    backend.submit(recipe.job_name, recipe.run_id, recipe.recipe)
    return SubmittedJob(job_name=recipe.job_name, submitted_at=_now().isoformat())


def poll_step(
    backend: JobBackend[Recipe],
    job: SubmittedJob,
    attempt: int,
    *,
    interval_seconds: int,
    max_seconds: float,
    max_stuck_minutes: float = 30.0,
) -> PollState:
    """One look at the job: raise JobFailed on failure, JobStuck when a pod has been stuck for longer than
    `max_stuck_minutes` (the job would never fail by itself: it restarts on failure); report a time-out
    instead of waiting forever."""
    status = backend.status(job.job_name, attempt)
    if status.state is JobState.FAILED:
        raise JobFailed(f"job {job.job_name} failed: {status.reason or 'no reason given'}")
    if status.state is JobState.RUNNING and status.stuck and status.stuck_minutes > max_stuck_minutes:
        raise JobStuck(
            f"job {job.job_name} is stuck and is being cancelled (max_stuck_minutes {max_stuck_minutes:g}): "
            f"{status.stuck}"
        )
    elapsed = (_now() - datetime.fromisoformat(job.submitted_at)).total_seconds()
    return PollState(
        state=status.state.value,
        attempt=attempt + 1,
        interval_seconds=interval_seconds,
        timed_out=status.state is JobState.RUNNING and elapsed > max_seconds,
        elapsed_seconds=round(elapsed, 1),
        restarts=status.restarts,
        stuck=status.stuck,
    )


def cancel_step(backend: JobBackend[Recipe], state: RunState) -> CancelResult:
    """Cancel the run's job when it may exist: SubmitJob returned, or it ran (capacity was prepared) and failed.

    A SubmitJob that failed after creating objects leaves no `job` in the state; the job name then comes
    from the run summary. Cancelling a job that does not exist is fine.
    """
    name = state.job.job_name if state.job else None
    if not name and state.capacity and state.recipe:
        name = state.recipe.job_name
    if name:
        backend.cancel(name)
    return CancelResult(cancelled=name)
