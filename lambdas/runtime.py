"""What every handler shares: Powertools objects, validated environment, AWS clients, the cluster backend."""

from __future__ import annotations

import os
from functools import cache
from typing import TypeVar

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from pydantic import BaseModel, ConfigDict

from novacpt.pipeline.cluster import ClusterBackend, ScriptedCluster
from novacpt.pipeline.s3access import S3Access
from novacpt.pipeline.settings import Deployment

logger = Logger()
tracer = Tracer()
metrics = Metrics()

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
    """How to reach the training cluster."""

    model_config = ConfigDict(extra="ignore")
    cluster_backend: str = "fake"
    fake_job_states: str = "RUNNING,SUCCEEDED"
    fake_failure_reason: str = "scripted failure"


def cluster() -> ClusterBackend:
    """The configured cluster backend (only the scripted fake exists before the HyperPod issue)."""
    settings = env(ClusterEnv)
    if settings.cluster_backend != "fake":
        raise ValueError(f"CLUSTER_BACKEND={settings.cluster_backend!r} is not supported yet; use 'fake'")
    return ScriptedCluster(settings.fake_job_states.split(","), settings.fake_failure_reason)
