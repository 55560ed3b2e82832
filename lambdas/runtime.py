"""What every handler shares: Powertools objects, validated settings, AWS clients, the cluster backend."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.parser import event_parser
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel

from novacpt.kernel.errors import TransientError, error_code, is_transient
from novacpt.kernel.ports import ClusterBackend
from novacpt.kernel.s3access import S3Access
from novacpt.kernel.settings import (
    ClusterSettings,
    Deployment,
    JobSettings,
    LeaseSettings,
    ReleaseStartSettings,
    Settings,
)
from novacpt.recipe import Recipe

if TYPE_CHECKING:  # the adapters load only in the functions that drive the cluster or the lease (cold start)
    from novacpt.adapters.hyperpod import HyperPodCapacity
    from novacpt.adapters.lease import LeaseTable, QueueEntry

logger = Logger()
tracer = Tracer()
metrics = Metrics()


INPUT_MODELS: dict[str, type[BaseModel]] = {}
"""Each handler's input model, by the handler's dotted name (what the state machine's payload must parse as)."""


def pipeline_handler(model: type[BaseModel]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A handler of `model` events with JSON logs (context injected), tracing and metrics flushed.

    The handler returns a contract model (or a list of them); the state machine gets its JSON form.
    """

    def wrap(function: Callable[..., Any]) -> Callable[..., Any]:
        INPUT_MODELS[f"{function.__module__}.{function.__name__}"] = model

        def dumped(event: Any, context: Any) -> Any:
            return _dump(function(event, context))

        parsed = event_parser(model=model)(dumped)
        wrapped: Callable[..., Any] = logger.inject_lambda_context(
            tracer.capture_lambda_handler(metrics.log_metrics(parsed))
        )
        return wrapped

    return wrap


def _dump(result: Any) -> Any:
    if isinstance(result, BaseModel):
        return result.model_dump(mode="json")
    if isinstance(result, list):
        return [_dump(item) for item in result]
    return result


S = TypeVar("S", bound=Settings)


def settings(model: type[S]) -> S:
    """This function's settings, from its environment variables (the stack wrote them from the same model)."""
    return model.from_environ(os.environ)


@cache
def deployment() -> Deployment:
    """Account, region and buckets of this deployment."""
    return settings(Deployment)


@cache
def s3() -> S3Access:
    """S3 calls scoped to this deployment's account."""
    return S3Access(boto3.client("s3"), settings(Deployment).account_id)


def cluster() -> ClusterBackend[Recipe]:
    """The training cluster the capacity and job steps drive (`cluster_factory`, HyperPod unless replaced)."""
    return cluster_factory()


def hyperpod_cluster() -> ClusterBackend[Recipe]:
    """The HyperPod cluster: its capacity and job halves are each made, from their settings, on first use."""
    from novacpt.adapters.hyperpod import HyperPodBackend, HyperPodCapacity
    from novacpt.adapters.kubernetes_jobs import kubernetes_jobs

    def capacity() -> HyperPodCapacity:
        config = settings(ClusterSettings)
        return HyperPodCapacity(
            boto3.client("sagemaker"),
            config.hyperpod_cluster_name,
            config.instance_group,
            config.resting_count,
            always_on=config.capacity_mode == "always-on",
        )

    return HyperPodBackend(capacity=capacity, jobs=lambda: kubernetes_jobs(settings(JobSettings)))


cluster_factory: Callable[[], ClusterBackend[Recipe]] = hyperpod_cluster
"""Makes the cluster backend: the emulator (novacpt_dev) replaces it while it runs handlers in process."""


def lease_table() -> LeaseTable:
    """The lease and queue of this deployment's instance group."""
    from novacpt.adapters.lease import LeaseTable

    config = settings(LeaseSettings)
    return LeaseTable(boto3.client("dynamodb"), config.lease_table, config.lease_group)


def start_release(owner: str) -> str:
    """Start the release workflow of `owner`'s lease; its name is fixed per owner, so starting twice is harmless."""
    from novacpt.steps.lease import release_name

    name = release_name(owner)
    client = boto3.client("stepfunctions")
    try:
        client.start_execution(
            stateMachineArn=settings(ReleaseStartSettings).release_state_machine_arn,
            name=name,
            input=json.dumps({"owner": owner}),
        )
    except client.exceptions.ExecutionAlreadyExists:
        logger.info("release already started", extra={"owner": owner, "release": name})
    except (ClientError, BotoCoreError) as exc:
        if is_transient(exc):
            raise TransientError(f"Step Functions StartExecution {name}: {exc}, retrying") from exc
        raise
    return name


def execution_alive(entry: QueueEntry) -> bool:
    """False only when the queued execution has certainly ended (so its place in line can be given up)."""
    client = boto3.client("stepfunctions")
    try:
        status = client.describe_execution(executionArn=entry.execution_arn)["status"]
    except ClientError as exc:
        return error_code(exc) not in {"ExecutionDoesNotExist", "InvalidArn"}
    return bool(status == "RUNNING")
