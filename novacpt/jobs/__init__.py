"""The Nova CPT job on the cluster: its manifests, what its status means, and the job backend."""

from novacpt.jobs.backend import KubernetesJobs, KubernetesJobsSettings, kubernetes_jobs, s3_recipe_loader
from novacpt.jobs.manifests import render_manifests, to_yaml

__all__ = [
    "KubernetesJobs",
    "KubernetesJobsSettings",
    "kubernetes_jobs",
    "render_manifests",
    "s3_recipe_loader",
    "to_yaml",
]
