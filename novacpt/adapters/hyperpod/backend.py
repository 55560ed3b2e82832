"""The HyperPod ClusterBackend: capacity from the restricted instance group, jobs from the Kubernetes backend."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property

from novacpt.kernel.ports import CapacityBackend, CapacityStatus, JobBackend, JobStatus
from novacpt.recipe import Recipe


class HyperPodBackend:
    """ClusterBackend joining a capacity backend and a job backend, each made on first use.

    A capacity function then needs no Kubernetes settings, and a job function no SageMaker ones.
    """

    def __init__(self, capacity: Callable[[], CapacityBackend], jobs: Callable[[], JobBackend[Recipe]]) -> None:
        self._make_capacity = capacity
        self._make_jobs = jobs

    @cached_property
    def capacity(self) -> CapacityBackend:
        """The restricted instance group's capacity."""
        return self._make_capacity()

    @cached_property
    def jobs(self) -> JobBackend[Recipe]:
        """The training jobs on the cluster's EKS."""
        return self._make_jobs()

    def prepare_capacity(self, replicas: int) -> bool:
        return self.capacity.prepare_capacity(replicas)

    def capacity_status(self) -> CapacityStatus:
        return self.capacity.capacity_status()

    def release_capacity(self) -> bool:
        return self.capacity.release_capacity()

    def submit(self, job_name: str, execution: str, recipe: Recipe) -> None:
        self.jobs.submit(job_name, execution, recipe)

    def status(self, job_name: str, attempt: int) -> JobStatus:
        return self.jobs.status(job_name, attempt)

    def cancel(self, job_name: str) -> None:
        self.jobs.cancel(job_name)
