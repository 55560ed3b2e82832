"""Scripted fakes of the runtime's ports, for tests and the emulated pipeline (never shipped)."""

from __future__ import annotations

import os
from typing import Any

from novacpt.adapters.hyperpod import HyperPodBackend
from novacpt.adapters.kubernetes_jobs import kubernetes_jobs
from novacpt.kernel.errors import PipelineError
from novacpt.kernel.ports import CapacityStatus, ClusterBackend, JobState, JobStatus
from novacpt.kernel.settings import JobSettings, Settings
from novacpt.recipe import Recipe
from novacpt_dev.hyperpod_fake import EmulatedCluster, FakeHyperPod, installed_hyperpod


class ScriptedCluster:
    """One cluster, in memory, whose jobs walk through scripted states, one per poll (the last one repeats).

    It keeps what the real backend keeps and refuses what it refuses: a job name taken by another
    execution (as the API server's 409 is read by the Kubernetes backend), the status of a job it does not
    have (the job is reported gone, FAILED), and a release of the capacity while a job runs (refused and
    recorded in `violations`). A cancel of a job it does not have is fine, as on the cluster, and recorded
    in `unknown_cancels`. Capacity is always in service.
    """

    def __init__(self, states: list[str], failure_reason: str = "scripted failure") -> None:
        if not states:
            raise ValueError("the fake cluster needs at least one scripted state")
        self.states = [JobState(s.strip().upper()) for s in states]
        self.failure_reason = failure_reason
        self.jobs: dict[str, str] = {}  # job name -> the execution that submitted it
        self.ended: set[str] = set()  # jobs whose last status was SUCCEEDED or FAILED
        self.cancelled: list[str] = []
        self.unknown_cancels: list[str] = []
        self.releases = 0  # release_capacity calls
        self.violations: list[str] = []

    def prepare_capacity(self, replicas: int) -> bool:
        return True

    def capacity_status(self) -> CapacityStatus:
        return CapacityStatus(0, 0, "fake")

    def running(self) -> list[str]:
        """The jobs submitted and not ended or cancelled."""
        return [name for name in self.jobs if name not in self.ended]

    def release_capacity(self) -> bool:
        """Refused (False: not at rest) while a job runs, and recorded; True otherwise."""
        self.releases += 1
        running = self.running()
        if running:
            self.violations.append(f"capacity released while {', '.join(running)} ran")
            return False
        return True

    def submit(self, job_name: str, execution: str, recipe: object) -> None:
        owner = self.jobs.get(job_name)
        if owner is not None and owner != execution:
            raise PipelineError(f"job {job_name} already exists for execution {owner}, not {execution}")
        self.jobs[job_name] = execution

    def status(self, job_name: str, attempt: int) -> JobStatus:
        if job_name not in self.jobs:
            return JobStatus(JobState.FAILED, f"job {job_name} does not exist (never submitted, or cancelled)")
        state = self.states[min(attempt, len(self.states) - 1)]
        if state is not JobState.RUNNING:
            self.ended.add(job_name)
        return JobStatus(state, self.failure_reason if state is JobState.FAILED else "")

    def cancel(self, job_name: str) -> None:
        if self.jobs.pop(job_name, None) is None:
            self.unknown_cancels.append(job_name)
            return
        self.ended.discard(job_name)
        self.cancelled.append(job_name)


class FakeClusterSettings(Settings):
    """The HyperPod fake's scripted jobs, from the environment (emulated runs only; never in the deployed stack)."""

    fake_job_states: str = "RUNNING,SUCCEEDED"
    fake_failure_reason: str = "scripted failure"

    def cluster(self) -> ClusterBackend[Any]:
        """The installed stateful HyperPod fake (capacity with state, jobs walking through these states)."""
        return EmulatedCluster(_installed(), self.fake_job_states.split(","), self.fake_failure_reason)


def _installed() -> FakeHyperPod:
    hyperpod = installed_hyperpod()
    if hyperpod is None:
        raise RuntimeError("no HyperPod fake is installed: run the handlers inside hyperpod_installed(...)")
    return hyperpod


def cluster_on_kubernetes() -> ClusterBackend[Recipe]:
    """Capacity from the installed HyperPod fake; jobs through the real Kubernetes backend, with the function's
    job settings (point its EKS connection at the stand-in API with `KubernetesStandIn.as_the_cluster`)."""
    return HyperPodBackend(
        capacity=lambda: FakeClusterSettings.from_environ(os.environ).cluster(),
        jobs=lambda: kubernetes_jobs(JobSettings.from_environ(os.environ)),
    )
