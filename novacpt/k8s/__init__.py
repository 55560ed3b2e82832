"""Kubernetes API access without kubectl: EKS tokens, a small client, and a local stand-in API for tests and demos."""

from novacpt.k8s.client import CONFIGMAPS, PODS, PYTORCHJOBS, KubernetesClient, KubernetesError, Resource
from novacpt.k8s.eks import connect_eks
from novacpt.k8s.token import EksTokenSource, token_problem

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
