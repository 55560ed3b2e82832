"""A HyperPod cluster that keeps state: one restricted instance group, its scaling, and the jobs on it.

The pipeline's real capacity code (HyperPodCapacity) drives it through a SageMaker-shaped client
(`DescribeCluster`, `ListClusterNodes`, `UpdateCluster`, the real botocore model for request
shapes); the job functions drive its jobs half. What AWS does, it does:

* `UpdateCluster` puts the cluster in `Updating` until the new count is in service (for a few
  `DescribeCluster` calls, or until `complete_update()` when updates are held);
* an `UpdateCluster` while `Updating` is refused with `ConflictException` (the pipeline's ClusterBusy);
* nodes in service are the current count, all `Running`.

It also watches what must never happen and records it in `violations`: the group scaled below what
a running job uses, a second job started while another runs, a job started on too few instances.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.exceptions import ClientError

from novacpt.kernel.ports import CapacityStatus, JobState, JobStatus

INSTANCE_TYPE = "ml.p5.48xlarge"


@dataclass
class FakeJob:
    """One job on the group: its size, its state, and how many polls it has left to run."""

    name: str
    replicas: int
    state: JobState = JobState.RUNNING
    polls_left: int = 1
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
        job_polls: int = 1,
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
        self.job_polls = job_polls
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
            self.jobs[job_name] = FakeJob(
                job_name, replicas, polls_left=self.job_polls, summary={"execution": execution, "replicas": replicas}
            )

    def status(self, job_name: str, attempt: int) -> JobStatus:
        with self._lock:
            job = self.jobs.get(job_name)
            if job is None:
                return JobStatus(JobState.FAILED, f"job {job_name} does not exist")
            if job.state is JobState.RUNNING and not self.hold_jobs:
                job.polls_left -= 1
                if job.polls_left < 0:
                    job.state = JobState.SUCCEEDED
            return JobStatus(job.state, job.reason)

    def cancel(self, job_name: str) -> None:
        with self._lock:
            job = self.jobs.get(job_name)
            if job is not None and job.state is JobState.RUNNING:
                job.state = JobState.FAILED
                job.reason = "cancelled"

    def capacity_status(self) -> CapacityStatus:
        with self._lock:
            return CapacityStatus(self.target, self.current, self.cluster_status)

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
