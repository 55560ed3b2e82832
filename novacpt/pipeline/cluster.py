"""The one small interface the capacity and job steps call, and the scripted fake used before HyperPod."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol


class JobState(StrEnum):
    """Where a training job stands (from the PyTorchJob's last condition)."""

    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


@dataclass(frozen=True, slots=True)
class JobStatus:
    """A job's state, and why when it failed."""

    state: JobState
    reason: str = ""


@dataclass(frozen=True, slots=True)
class CapacityStatus:
    """How many training instances are asked for and in service, and what the cluster says."""

    target: int
    in_service: int
    cluster_state: str = ""
    last_failure: str = ""

    def __str__(self) -> str:
        text = f"{self.in_service} of {self.target} instances in service"
        if self.cluster_state:
            text += f", cluster {self.cluster_state}"
        if self.last_failure:
            text += f", last failure: {self.last_failure}"
        return text


class ClusterBackend(Protocol):
    """Capacity and jobs on the training cluster."""

    def prepare_capacity(self, replicas: int) -> bool:
        """Ask for `replicas` instances (again while scaling asks nothing new); True once they are in service."""

    def capacity_status(self) -> CapacityStatus:
        """The instances asked for and in service, for messages."""

    def release_capacity(self) -> None:
        """Return the cluster to its resting size (idempotent)."""

    def submit(self, job_name: str, summary: dict[str, Any]) -> None:
        """Start the job (idempotent for the same name and execution)."""

    def status(self, job_name: str, attempt: int) -> JobStatus:
        """The job's state at poll number `attempt`."""

    def cancel(self, job_name: str) -> None:
        """Stop and delete the job (idempotent)."""


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

    def release_capacity(self) -> None:
        return None

    def submit(self, job_name: str, summary: dict[str, Any]) -> None:
        return None

    def status(self, job_name: str, attempt: int) -> JobStatus:
        state = self.states[min(attempt, len(self.states) - 1)]
        return JobStatus(state, self.failure_reason if state is JobState.FAILED else "")

    def cancel(self, job_name: str) -> None:
        return None
