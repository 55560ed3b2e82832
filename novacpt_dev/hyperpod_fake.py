"""A HyperPod cluster that keeps state: one restricted instance group, its scaling, and the jobs on it.

The pipeline's real capacity code (HyperPodCapacity) drives it through a SageMaker-shaped client
(`DescribeCluster`, `ListClusterNodes`, `UpdateCluster`, the real botocore model for request
shapes); the job functions drive its jobs half. What AWS does, it does:

* `UpdateCluster` puts the cluster in `Updating` until the new count is in service (for a few
  `DescribeCluster` calls, or until `complete_update()` when updates are held);
* an `UpdateCluster` while `Updating` is refused with `ConflictException` (the pipeline's ClusterBusy);
* nodes in service are the current count, all `Running`.

Jobs run until their scripted states end them, or, while `hold_jobs` is set, until `finish()`.
It also watches what must never happen and records it in `violations`: the group scaled below what
a running job uses, a second job started while another runs, a job started on too few instances.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.exceptions import ClientError

from novacpt.adapters.hyperpod import HyperPodCapacity
from novacpt.kernel.ports import CapacityStatus, JobState, JobStatus

INSTANCE_TYPE = "ml.p5.48xlarge"


@dataclass
class FakeJob:
    """One job on the group: its size and its state."""

    name: str
    replicas: int
    state: JobState = JobState.RUNNING
    reason: str = ""
    summary: dict[str, Any] = field(default_factory=dict)


@dataclass
class ScaleEvent:
    """One accepted UpdateCluster: from which count to which, and the jobs running at that moment."""

    before: int
    after: int
    running_jobs: tuple[str, ...]


class FakeHyperPod:
    """The cluster `cluster_name` with the restricted instance group `group` (thread-safe)."""

    def __init__(
        self,
        cluster_name: str = "nova-cpt",
        group: str = "nova-p5",
        *,
        resting: int = 0,
        update_describes: int = 2,
        region: str = "us-east-1",
        account: str = "123456789012",
    ) -> None:
        self.cluster_name = cluster_name
        self.group = group
        self.arn = f"arn:aws:sagemaker:{region}:{account}:cluster/fake{abs(hash(cluster_name)) % 10**8:08d}"
        self.role = f"arn:aws:iam::{account}:role/{cluster_name}-rig-execution"
        self.current = resting
        self.target = resting
        self.cluster_status = "InService"
        self.update_describes = update_describes
        self.hold_updates = False
        self.hold_jobs = False
        self.jobs: dict[str, FakeJob] = {}
        self.scales: list[ScaleEvent] = []
        self.conflicts = 0
        self.violations: list[str] = []
        self._pending = 0
        self._lock = threading.RLock()
        self._model = boto3.client("sagemaker", region_name=region).meta

    # --- what the tests control -------------------------------------------------------------------

    def complete_update(self) -> None:
        """Finish the update under way now (when updates are held)."""
        with self._lock:
            if self.cluster_status == "Updating":
                self._settle()

    def finish(self, job: str, state: str = "SUCCEEDED", reason: str = "") -> None:
        """End a running job (when jobs are held)."""
        with self._lock:
            self.jobs[job].state = JobState(state)
            self.jobs[job].reason = reason

    def running_jobs(self) -> list[str]:
        """Names of the jobs running now."""
        with self._lock:
            return [j.name for j in self.jobs.values() if j.state is JobState.RUNNING]

    # --- the SageMaker client HyperPodCapacity calls ----------------------------------------------

    @property
    def sagemaker(self) -> FakeHyperPod:
        """The object to hand to HyperPodCapacity as its SageMaker client."""
        return self

    @property
    def meta(self) -> Any:
        return self._model

    def describe_cluster(self, ClusterName: str) -> dict[str, Any]:
        with self._lock:
            self._check_name(ClusterName)
            if self.cluster_status == "Updating" and not self.hold_updates:
                self._pending -= 1
                if self._pending <= 0:
                    self._settle()
            return {
                "ClusterArn": self.arn,
                "ClusterName": self.cluster_name,
                "ClusterStatus": self.cluster_status,
                "RestrictedInstanceGroups": [
                    {
                        "InstanceGroupName": self.group,
                        "InstanceType": INSTANCE_TYPE,
                        "ExecutionRole": self.role,
                        "CurrentCount": self.current,
                        "TargetCount": self.target,
                        "Status": "Updating" if self.cluster_status == "Updating" else "InService",
                        "ThreadsPerCore": 1,
                        "EnvironmentConfig": {"FSxLustreConfig": {"SizeInGiB": 1200, "PerUnitStorageThroughput": 250}},
                    }
                ],
                "NodeRecovery": "Automatic",
            }

    def list_cluster_nodes(self, ClusterName: str, **_: Any) -> dict[str, Any]:
        with self._lock:
            self._check_name(ClusterName)
            in_service = self.current if self.cluster_status != "Updating" else min(self.current, self.target)
            return {
                "ClusterNodeSummaries": [
                    {
                        "InstanceGroupName": self.group,
                        "InstanceId": f"i-{self.cluster_name}-{n:04d}",
                        "InstanceType": INSTANCE_TYPE,
                        "InstanceStatus": {"Status": "Running"},
                    }
                    for n in range(in_service)
                ]
            }

    def update_cluster(self, ClusterName: str, **request: Any) -> dict[str, Any]:
        with self._lock:
            self._check_name(ClusterName)
            if self.cluster_status != "InService":
                self.conflicts += 1
                raise ClientError(
                    {"Error": {"Code": "ConflictException", "Message": f"cluster is {self.cluster_status}"}},
                    "UpdateCluster",
                )
            (count,) = [
                g["InstanceCount"]
                for g in request.get("RestrictedInstanceGroups", [])
                if g["InstanceGroupName"] == self.group
            ]
            running = tuple(self.running_jobs())
            used = sum(self.jobs[name].replicas for name in running)
            if count < used:
                self.violations.append(f"scaled {self.target} -> {count} while {', '.join(running)} ran on {used}")
            self.scales.append(ScaleEvent(self.target, count, running))
            self.target = count
            self.cluster_status = "Updating"
            self._pending = self.update_describes
            return {"ClusterArn": self.arn}

    # --- the jobs half of the ClusterBackend ------------------------------------------------------

    def submit(self, job_name: str, execution: str, recipe: Any) -> None:
        with self._lock:
            if job_name in self.jobs:
                return  # idempotent, as the Kubernetes backend
            replicas = int(recipe.run.replicas)
            others = self.running_jobs()
            if others:
                self.violations.append(f"job {job_name} started while {', '.join(others)} ran on the group")
            if self.current < replicas or self.cluster_status != "InService":
                self.violations.append(
                    f"job {job_name} started on {self.current} instances ({self.cluster_status}); it needs {replicas}"
                )
            self.jobs[job_name] = FakeJob(job_name, replicas, summary={"execution": execution, "replicas": replicas})

    def job_status(self, job_name: str) -> JobStatus | None:
        """The job's state, or None when there is no such job."""
        with self._lock:
            job = self.jobs.get(job_name)
            return None if job is None else JobStatus(job.state, job.reason)

    def cancel(self, job_name: str) -> None:
        with self._lock:
            job = self.jobs.get(job_name)
            if job is not None and job.state is JobState.RUNNING:
                job.state = JobState.FAILED
                job.reason = "cancelled"

    # --- internals --------------------------------------------------------------------------------

    def _settle(self) -> None:
        self.current = self.target
        self.cluster_status = "InService"
        self._pending = 0

    def _check_name(self, name: str) -> None:
        if name != self.cluster_name:
            raise ClientError(
                {"Error": {"Code": "ResourceNotFound", "Message": f"cluster {name} not found"}}, "DescribeCluster"
            )


class EmulatedCluster:
    """The ClusterBackend of one handler invocation over the shared FakeHyperPod.

    Capacity goes through the real HyperPodCapacity; a job's state at poll `attempt` follows the
    scripted `states` (the last repeats), unless the fake holds jobs running or the job already ended.
    """

    def __init__(
        self, fake: FakeHyperPod, states: list[str], failure_reason: str = "scripted failure", resting: int = 0
    ) -> None:
        self.fake = fake
        self.states = [JobState(s.strip().upper()) for s in states] or [JobState.SUCCEEDED]
        self.failure_reason = failure_reason
        self.capacity = HyperPodCapacity(fake.sagemaker, fake.cluster_name, fake.group, resting)

    def prepare_capacity(self, replicas: int) -> bool:
        return self.capacity.prepare_capacity(replicas)

    def capacity_status(self) -> CapacityStatus:
        return self.capacity.capacity_status()

    def release_capacity(self) -> bool:
        return self.capacity.release_capacity()

    def submit(self, job_name: str, execution: str, recipe: Any) -> None:
        self.fake.submit(job_name, execution, recipe)

    def status(self, job_name: str, attempt: int) -> JobStatus:
        current = self.fake.job_status(job_name)
        if current is None:
            return JobStatus(JobState.FAILED, f"job {job_name} does not exist")
        if current.state is not JobState.RUNNING or self.fake.hold_jobs:
            return current
        scripted = self.states[min(attempt, len(self.states) - 1)]
        reason = self.failure_reason if scripted is JobState.FAILED else ""
        if scripted is not JobState.RUNNING:
            self.fake.finish(job_name, scripted.value, reason)
        return JobStatus(scripted, reason)

    def cancel(self, job_name: str) -> None:
        self.fake.cancel(job_name)


_INSTALLED: list[FakeHyperPod] = []


def installed_hyperpod() -> FakeHyperPod | None:
    """The fake the emulated pipeline's handlers use now, if any."""
    return _INSTALLED[-1] if _INSTALLED else None


@contextmanager
def hyperpod_installed(fake: FakeHyperPod) -> Iterator[FakeHyperPod]:
    """While active, the emulated pipeline's capacity (and, unless its jobs run on the stand-in API, jobs) are
    `fake`'s."""
    _INSTALLED.append(fake)
    try:
        yield fake
    finally:
        _INSTALLED.remove(fake)
