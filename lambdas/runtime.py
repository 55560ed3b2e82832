"""What every handler shares: Powertools objects, validated environment, AWS clients, the cluster backend."""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import cache
from typing import Any, Literal, TypeVar

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.parser import event_parser
from pydantic import BaseModel, ConfigDict, model_validator

from novacpt.adapters.hyperpod import HyperPodBackend, HyperPodCapacity
from novacpt.adapters.kubernetes_jobs import KubernetesJobsSettings, kubernetes_jobs
from novacpt.kernel.ports import ClusterBackend
from novacpt.kernel.s3access import S3Access
from novacpt.kernel.settings import Deployment

logger = Logger()
tracer = Tracer()
metrics = Metrics()


def pipeline_handler(model: type[BaseModel]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A handler of `model` events with JSON logs (context injected), tracing and metrics flushed."""

    def wrap(function: Callable[..., Any]) -> Callable[..., Any]:
        parsed = event_parser(model=model)(function)
        wrapped: Callable[..., Any] = logger.inject_lambda_context(
            tracer.capture_lambda_handler(metrics.log_metrics(parsed))
        )
        return wrapped

    return wrap


M = TypeVar("M", bound=BaseModel)


def env(model: type[M]) -> M:
    """The handler's environment variables, validated (names are the fields, upper-cased)."""
    return model.model_validate({k.lower(): v for k, v in os.environ.items()})


@cache
def deployment() -> Deployment:
    """Account, region and buckets of this deployment."""
    return env(Deployment)


@cache
def s3() -> S3Access:
    """S3 calls scoped to this deployment's account."""
    return S3Access(boto3.client("s3"), deployment().account_id)


class ClusterEnv(BaseModel):
    """How to reach the training cluster: the scripted fake, or a HyperPod cluster's restricted instance group."""

    model_config = ConfigDict(extra="ignore")
    cluster_backend: Literal["fake", "hyperpod"] = "fake"
    fake_job_states: str = "RUNNING,SUCCEEDED"
    fake_failure_reason: str = "scripted failure"
    hyperpod_cluster_name: str = ""
    instance_group: str = ""
    resting_count: int = 0
    capacity_mode: Literal["on-demand", "always-on"] = "on-demand"

    @model_validator(mode="after")
    def _hyperpod_named(self) -> ClusterEnv:
        if self.cluster_backend == "hyperpod" and not (self.hyperpod_cluster_name and self.instance_group):
            raise ValueError("CLUSTER_BACKEND=hyperpod needs HYPERPOD_CLUSTER_NAME and INSTANCE_GROUP")
        return self


def cluster() -> ClusterBackend:
    """The configured cluster backend; HyperPod's capacity and job halves are each made on first use."""
    settings = env(ClusterEnv)
    if settings.cluster_backend == "fake":
        from novacpt_dev.fakes import ScriptedCluster  # stage 1 only: the fake leaves the runtime in stage 2

        return ScriptedCluster(settings.fake_job_states.split(","), settings.fake_failure_reason)
    return HyperPodBackend(
        capacity=lambda: HyperPodCapacity(
            boto3.client("sagemaker"),
            settings.hyperpod_cluster_name,
            settings.instance_group,
            settings.resting_count,
            always_on=settings.capacity_mode == "always-on",
        ),
        jobs=lambda: kubernetes_jobs(env(KubernetesJobsSettings), s3()),
    )
