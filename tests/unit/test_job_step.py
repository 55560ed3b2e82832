"""SubmitJob, PollJob and CancelJob steps over any cluster backend."""

from __future__ import annotations

from typing import Any

import pytest

from novacpt.contract import CancelResult, CapacityState, SubmittedJob
from novacpt.kernel.errors import JobFailed, JobStuck
from novacpt.kernel.ports import JobState, JobStatus
from novacpt.steps.job import cancel_step, poll_step, submit_step
from novacpt_dev.fakes import ScriptedCluster
from tests.examples import recipe_summary, run_state

LOG_GROUP = "/aws/sagemaker/Clusters/hp-cluster/abc123def456"


class Running(ScriptedCluster):
    """The scripted fake, its jobs running."""

    def __init__(self) -> None:
        super().__init__(["RUNNING"])


RECIPE = recipe_summary(job_name="j-1")
CAPACITY = CapacityState(
    replicas=16, ready=True, requested_at="2026-01-01T00:00:00+00:00", waited_seconds=0, interval_seconds=0
)
JOB = SubmittedJob(job_name="j-1", submitted_at="2026-01-01T00:00:00+00:00")


@pytest.mark.parametrize(
    ("parts", "submitted", "cancelled"),
    [
        ({"recipe": RECIPE, "capacity": CAPACITY, "job": JOB}, True, "j-1"),
        ({"recipe": RECIPE, "capacity": CAPACITY}, True, "j-1"),  # SubmitJob started the job, then failed
        ({"recipe": RECIPE, "capacity": CAPACITY}, False, "j-1"),  # SubmitJob failed before: asking costs nothing
        ({"recipe": RECIPE}, False, None),  # stopped before the cluster was touched
        ({"input": {}}, False, None),
    ],
)
def test_cancel_step_cancels_whatever_submit_may_have_started(
    parts: dict[str, Any], submitted: bool, cancelled: str | None
) -> None:
    backend = Running()
    if submitted:
        backend.submit("j-1", "run-a", RECIPE)
    assert cancel_step(backend, run_state(**parts)) == CancelResult(cancelled=cancelled)
    assert backend.jobs == {}  # nothing is left running
    asked = backend.cancelled if submitted else backend.unknown_cancels
    assert asked == ([cancelled] if cancelled else [])


def test_submit_then_poll_reports_running_and_elapsed_time() -> None:
    backend = Running()
    job = submit_step(backend, RECIPE)
    poll = poll_step(backend, job, 0, interval_seconds=5, max_seconds=60)
    assert poll.state == "RUNNING" and poll.attempt == 1 and not poll.timed_out


def test_poll_step_raises_job_failed_with_the_backend_reason() -> None:
    class Failed(Running):
        def status(self, job_name: str, attempt: int) -> JobStatus:
            return JobStatus(JobState.FAILED, f"boom; logs: CloudWatch log group {LOG_GROUP}")

    job = SubmittedJob(job_name="j", submitted_at="2026-01-01T00:00:00+00:00")
    with pytest.raises(JobFailed, match=f"job j failed: boom; logs: CloudWatch log group {LOG_GROUP}"):
        poll_step(Failed(), job, 0, interval_seconds=0, max_seconds=1)


@pytest.mark.parametrize(("minutes", "stuck"), [(29.0, False), (31.0, True)])
def test_poll_step_cancels_a_job_stuck_longer_than_max_stuck_minutes(minutes: float, stuck: bool) -> None:
    reason = f"pod j-worker-0 container pytorch: ImagePullBackOff (for {minutes:.0f} min); logs: {LOG_GROUP}"

    class Stuck(Running):
        def status(self, job_name: str, attempt: int) -> JobStatus:
            return JobStatus(JobState.RUNNING, restarts=4, stuck=reason, stuck_minutes=minutes)

    job = SubmittedJob(job_name="j", submitted_at="2026-01-01T00:00:00+00:00")
    if stuck:
        with pytest.raises(
            JobStuck, match=r"job j is stuck .*max_stuck_minutes 30\): pod j-worker-0 container pytorch"
        ):
            poll_step(Stuck(), job, 0, interval_seconds=0, max_seconds=1e9, max_stuck_minutes=30)
    else:
        poll = poll_step(Stuck(), job, 0, interval_seconds=0, max_seconds=1e9, max_stuck_minutes=30)
        assert (poll.state, poll.restarts, poll.stuck) == ("RUNNING", 4, reason)
