"""The job half of the ClusterBackend: submit, follow and cancel the Nova CPT PyTorchJob on the EKS cluster."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from novacpt.adapters.k8s.client import CONFIGMAPS, PODS, PYTORCHJOBS, KubernetesClient, KubernetesError, Resource
from novacpt.adapters.k8s.eks import connect_eks
from novacpt.jobs.manifests import (
    DEFAULT_NAMESPACE,
    EXECUTION_LABEL,
    JOB_NAME_LABEL,
    MANAGED_BY,
    config_map_name,
    label_value,
    render_manifests,
)
from novacpt.jobs.status import job_state, pod_problems, restarts, stuck_pods
from novacpt.kernel.errors import PipelineError, TransientError, aws_failure
from novacpt.kernel.ports import JobState, JobStatus
from novacpt.kernel.settings import JobSettings
from novacpt.recipe import Recipe


class KubernetesJobs:
    """Submit, status and cancel of the ClusterBackend protocol, over the Kubernetes API.

    `connect` makes the API client on first use (so a step that needs no API call makes none).
    """

    def __init__(
        self,
        connect: Callable[[], KubernetesClient],
        *,
        region: str,
        account: str,
        log_group: str,
        namespace: str = DEFAULT_NAMESPACE,
    ) -> None:
        self._connect = connect
        self._api: KubernetesClient | None = None
        self.region = region
        self.account = account
        self.log_group = log_group
        self.namespace = namespace

    @property
    def api(self) -> KubernetesClient:
        """The API client, connected on first use."""
        if self._api is None:
            try:
                self._api = self._connect()
            except (ClientError, BotoCoreError) as exc:
                raise aws_failure("connecting to the cluster", exc, service="EKS") from exc
            except ValueError as exc:
                raise PipelineError(f"connecting to the cluster: {exc}") from exc
        return self._api

    def submit(self, job_name: str, execution: str, recipe: Recipe) -> None:
        """Create the ConfigMap, then the PyTorchJob; objects already made by this execution count as created."""
        try:
            documents = render_manifests(
                recipe,
                region=self.region,
                account=self.account,
                job_name=job_name,
                execution=execution,
                namespace=self.namespace,
            )
        except ValueError as exc:
            raise PipelineError(f"cannot start job {job_name}: {exc}") from exc
        for resource, body in zip((CONFIGMAPS, PYTORCHJOBS), documents, strict=True):
            self._create_once(resource, body, execution)

    def status(self, job_name: str, attempt: int) -> JobStatus:
        """The job's state from its last condition; on failure, why (job and pods) and where the logs are."""
        with _translated(f"reading PyTorchJob {self.namespace}/{job_name}"):
            job = self.api.get(PYTORCHJOBS, self.namespace, job_name)
        if job is None:
            return self._failed(f"PyTorchJob {self.namespace}/{job_name} no longer exists (deleted outside the run?)")
        state, detail = job_state(job)
        if state is JobState.RUNNING:
            return self._running(job_name)
        if state is not JobState.FAILED:
            return JobStatus(state)
        return self._failed(detail or "the job failed with no message", *self._pod_problems(job_name))

    def _running(self, job_name: str) -> JobStatus:
        """A running job with its restarts and its longest-stuck pod (the watchdog reads these)."""
        try:
            pods = self._pods(job_name)
        except KubernetesError:
            return JobStatus(JobState.RUNNING)  # pods unreadable for now: the next poll looks again
        now = datetime.now(UTC)
        stuck = max(stuck_pods(pods), key=lambda s: s.minutes(now), default=None)
        if stuck is None:
            return JobStatus(JobState.RUNNING, restarts=restarts(pods))
        node = f", streams of node {stuck.node}" if stuck.node else ""
        where = f"{stuck.describe(now)}; logs: CloudWatch log group {self.log_group}{node}"
        return JobStatus(JobState.RUNNING, restarts=restarts(pods), stuck=where, stuck_minutes=stuck.minutes(now))

    def _pods(self, job_name: str) -> list[dict[str, Any]]:
        return self.api.list(PODS, self.namespace, label_selector=f"{JOB_NAME_LABEL}={job_name}")

    def cancel(self, job_name: str) -> None:
        """Delete the PyTorchJob (its pods go with it) and its ConfigMap; a missing object is fine."""
        self._delete_ours(PYTORCHJOBS, job_name)
        self._delete_ours(CONFIGMAPS, config_map_name(job_name))

    def _create_once(self, resource: Resource, body: dict[str, Any], execution: str) -> None:
        kind, name = body["kind"], body["metadata"]["name"]
        where = f"{kind} {self.namespace}/{name}"
        try:
            self.api.create(resource, self.namespace, body)
            return
        except KubernetesError as exc:
            if exc.status != 409:
                raise _pipeline_error(f"creating {where}", exc) from exc
        with _translated(f"reading {where}"):
            existing = self.api.get(resource, self.namespace, name)
        if existing is None:
            raise TransientError(f"{where} was deleted while being created, retrying")
        owner = ((existing.get("metadata") or {}).get("labels") or {}).get(EXECUTION_LABEL)
        if owner != label_value(execution):
            raise PipelineError(
                f"{where} already exists for execution {owner or '(none)'}, not {execution}: "
                "another run uses this name; delete that object or rename run.name"
            )

    def _delete_ours(self, resource: Resource, name: str) -> None:
        where = f"{resource.plural} {self.namespace}/{name}"
        with _translated(f"deleting {where}"):
            existing = self.api.get(resource, self.namespace, name)
            if existing is None:
                return
            labels = (existing.get("metadata") or {}).get("labels") or {}
            if not MANAGED_BY.items() <= labels.items():
                raise PipelineError(f"{where} was not created by this pipeline: it is left in place")
            self.api.delete(resource, self.namespace, name)

    def _pod_problems(self, job_name: str) -> list[str]:
        try:
            pods = self._pods(job_name)
        except KubernetesError as exc:
            return [f"its pods could not be listed ({exc})"]
        return pod_problems(pods)

    def _failed(self, *reasons: str) -> JobStatus:
        return JobStatus(JobState.FAILED, "; ".join([*reasons, f"logs: CloudWatch log group {self.log_group}"]))


def _pipeline_error(action: str, exc: KubernetesError) -> PipelineError:
    """A Kubernetes error as a pipeline error: TransientError (retried) or PipelineError with a hint."""
    if exc.transient:
        return TransientError(f"{action}: {exc}, retrying")
    hint = ""
    if exc.status in (401, 403):
        hint = " (check the EKS access entry of the function's role and its RBAC rights in the job namespace)"
    return PipelineError(f"{action}: {exc}{hint}")


@contextmanager
def _translated(action: str) -> Iterator[None]:
    try:
        yield
    except KubernetesError as exc:
        raise _pipeline_error(action, exc) from exc


def cluster_log_group(cluster_name: str, cluster_arn: str) -> str:
    """The HyperPod cluster's CloudWatch log group: `/aws/sagemaker/Clusters/<name>/<id>`."""
    return f"/aws/sagemaker/Clusters/{cluster_name}/{cluster_arn.rsplit('/', 1)[-1]}"


def kubernetes_jobs(settings: JobSettings, session: Any = None) -> KubernetesJobs:
    """The backend for a deployment: EKS access with `session` (a boto3 Session; default credentials if None)."""

    def connect() -> KubernetesClient:
        return connect_eks(session or boto3.Session(), settings.eks_cluster_name, settings.region)

    return KubernetesJobs(
        connect,
        region=settings.region,
        account=settings.account_id,
        log_group=cluster_log_group(settings.hyperpod_cluster_name, settings.hyperpod_cluster_arn),
        namespace=settings.job_namespace,
    )
