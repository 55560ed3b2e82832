"""Scripted fakes of the runtime's ports, for tests and the emulated pipeline (never shipped)."""

from __future__ import annotations

from typing import Any

from novacpt.kernel.ports import CapacityStatus, ClusterBackend, JobState, JobStatus
from novacpt.kernel.settings import Settings
from novacpt_dev.hyperpod_fake import EmulatedCluster, installed_hyperpod


class ScriptedCluster:
    """A fake cluster whose job walks through scripted states, one per poll (the last one repeats).

    Stateless between invocations, so it behaves the same in Lambda and in tests.
    """

    def __init__(self, states: list[str], failure_reason: str = "scripted failure") -> None:
        if not states:
            raise ValueError("the fake cluster needs at least one scripted state")
        self.states = [JobState(s.strip().upper()) for s in states]
        self.failure_reason = failure_reason

    def prepare_capacity(self, replicas: int) -> bool:
        return True

    def capacity_status(self) -> CapacityStatus:
        return CapacityStatus(0, 0, "fake")

    def release_capacity(self) -> bool:
        return True

    def submit(self, job_name: str, execution: str, recipe: object) -> None:
        return None

    def status(self, job_name: str, attempt: int) -> JobStatus:
        state = self.states[min(attempt, len(self.states) - 1)]
        return JobStatus(state, self.failure_reason if state is JobState.FAILED else "")

    def cancel(self, job_name: str) -> None:
        return None


class FakeClusterSettings(Settings):
    """The scripted fake's script, from the environment (emulated runs only; never in the deployed stack)."""

    fake_job_states: str = "RUNNING,SUCCEEDED"
    fake_failure_reason: str = "scripted failure"

    def cluster(self) -> ClusterBackend[Any]:
        """The fake cluster these settings script: the installed stateful HyperPod fake (capacity with state,
        scripted jobs), else the scripted fake."""
        hyperpod = installed_hyperpod()
        if hyperpod is not None:
            return EmulatedCluster(hyperpod, self.fake_job_states.split(","), self.fake_failure_reason)
        return ScriptedCluster(self.fake_job_states.split(","), self.fake_failure_reason)
