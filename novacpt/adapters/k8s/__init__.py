"""Kubernetes API access without kubectl: EKS tokens and a small client (the stand-in API is in novacpt_dev)."""

from novacpt.adapters.k8s.client import CONFIGMAPS, PODS, PYTORCHJOBS, KubernetesClient, KubernetesError, Resource
from novacpt.adapters.k8s.eks import connect_eks
from novacpt.adapters.k8s.token import EksTokenSource, token_problem

__all__ = [
    "CONFIGMAPS",
    "PODS",
    "PYTORCHJOBS",
    "EksTokenSource",
    "KubernetesClient",
    "KubernetesError",
    "Resource",
    "connect_eks",
    "token_problem",
]
