"""The ports the steps call (Protocols), and the values that cross them; adapters implement them."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, TypeVar

RecipeT = TypeVar("RecipeT", contravariant=True)
"""The recipe type a job backend runs (the domain's recipe model; the kernel does not know it)."""


class JobState(StrEnum):
    """Where a training job stands (from the PyTorchJob's last condition)."""

    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


@dataclass(frozen=True, slots=True)
class JobStatus:
    """A job's state, why when it failed, and what its pods say while it runs (restarts, the longest stuck)."""

    state: JobState
    reason: str = ""
    restarts: int = 0
    stuck: str = ""  # the pod stuck longest: pod, container, cause, where its logs are ("" when none is)
    stuck_minutes: float = 0.0


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


class JobBackend(Protocol[RecipeT]):
    """The job half of the ClusterBackend: start, read and stop one training job."""

    def submit(self, job_name: str, execution: str, recipe: RecipeT) -> None:
        """Start the job running `recipe` (the parsed recipe as it will run); idempotent for one execution."""

    def status(self, job_name: str, attempt: int) -> JobStatus:
        """The job's state at poll number `attempt`."""

    def cancel(self, job_name: str) -> None:
        """Stop and delete the job (idempotent)."""


class CapacityBackend(Protocol):
    """The capacity half of the ClusterBackend: the training instances of the cluster."""

    def prepare_capacity(self, replicas: int) -> bool:
        """Ask for `replicas` instances (again while scaling asks nothing new); True once they are in service."""

    def capacity_status(self) -> CapacityStatus:
        """The instances asked for and in service, for messages."""

    def release_capacity(self) -> bool:
        """Ask for the cluster's resting size (idempotent); True once it is there."""


class ClusterBackend(CapacityBackend, JobBackend[RecipeT], Protocol[RecipeT]):
    """Capacity and jobs on the training cluster."""
