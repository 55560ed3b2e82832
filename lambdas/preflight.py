"""Preflight state: quota, restricted instance group, add-ons and EKS access, before PrepareCapacity."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.runtime import pipeline_handler, settings
from novacpt.adapters.k8s import eks
from novacpt.adapters.preflight import Check, images, run_checks
from novacpt.contract import PreflightResult, RecipeInput
from novacpt.kernel.settings import PreflightSettings
from novacpt.steps.preflight import Checks, preflight_step


def aws_clients(session: Any) -> tuple[Any, Any]:
    """The SageMaker and Service Quotas clients (the demo puts its emulated account here)."""
    return session.client("sagemaker"), session.client("service-quotas")


def cluster_checks() -> Checks:
    """Every check against the deployment's HyperPod cluster, from this function's settings."""
    config = settings(PreflightSettings)

    def checks(replicas: int, model: str) -> list[Check]:
        session = boto3.Session()
        sagemaker, quotas = aws_clients(session)
        return run_checks(
            model_key=model,
            region=config.region,
            replicas=replicas,
            cluster=config.hyperpod_cluster_name,
            group=config.instance_group,
            namespace=config.job_namespace,
            sagemaker=sagemaker,
            quotas=quotas,
            api=lambda: eks.connect_eks(session, config.eks_cluster_name, config.region),
        )

    return checks


def region_checks() -> Checks:
    """Only what the region offers (the emulated pipeline, whose cluster is the scripted fake)."""
    region = boto3.session.Session().region_name or ""
    return lambda _, model: [images(model, region)]


checks_factory: Callable[[], Checks] = cluster_checks
"""Makes the checks: the emulator (novacpt_dev) replaces it when there is no cluster to look at."""


@pipeline_handler(RecipeInput)
def handler(event: RecipeInput, context: LambdaContext) -> PreflightResult:
    """Every check for the run's replicas; PreflightFailed (one line per failure) stops the run."""
    return preflight_step(checks_factory(), event.recipe)
