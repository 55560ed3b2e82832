"""Preflight state: quota, restricted instance group, add-ons and EKS access, before PrepareCapacity."""

from __future__ import annotations

from typing import Any

import boto3
from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.events import RecipeEvent
from lambdas.runtime import ClusterEnv, env, pipeline_handler
from novacpt.adapters import kubernetes_jobs as jobs_backend
from novacpt.adapters.k8s import eks
from novacpt.adapters.preflight import Check, images, run_checks
from novacpt.steps.preflight import preflight_step


def aws_clients(session: Any) -> tuple[Any, Any]:
    """The SageMaker and Service Quotas clients (the demo puts its emulated account here)."""
    return session.client("sagemaker"), session.client("service-quotas")


@pipeline_handler(RecipeEvent)
def handler(event: RecipeEvent, context: LambdaContext) -> dict[str, Any]:
    """Every check for the run's replicas; PreflightFailed (one line per failure) stops the run."""
    cluster = env(ClusterEnv)
    if cluster.cluster_backend == "fake":  # no cluster to look at: only what the region offers
        region = boto3.session.Session().region_name or ""
        return preflight_step(lambda _, model: [images(model, region)], event.recipe)
    settings = env(jobs_backend.KubernetesJobsSettings)

    def checks(replicas: int, model: str) -> list[Check]:
        session = boto3.Session()
        sagemaker, quotas = aws_clients(session)
        return run_checks(
            model_key=model,
            region=settings.region,
            replicas=replicas,
            cluster=cluster.hyperpod_cluster_name,
            group=cluster.instance_group,
            namespace=settings.job_namespace,
            sagemaker=sagemaker,
            quotas=quotas,
            api=lambda: eks.connect_eks(session, settings.eks_cluster_name, settings.region),
        )

    return preflight_step(checks, event.recipe)
