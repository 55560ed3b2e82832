"""Reach an EKS cluster's Kubernetes API from Python (Lambda included) without kubectl or a kubeconfig."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from novacpt.adapters.k8s.client import KubernetesClient
from novacpt.adapters.k8s.token import EksTokenSource


def connect_eks(session: Any, cluster_name: str, region: str, *, timeout_seconds: float = 15.0) -> KubernetesClient:
    """A client for the cluster's API: endpoint and CA from EKS DescribeCluster, tokens signed by `session`.

    `session` is a boto3 Session; its identity needs an EKS access entry on the cluster.
    Raises ValueError when the cluster has no endpoint or CA yet (it is still being created).
    """
    cluster = session.client("eks", region_name=region).describe_cluster(name=cluster_name)["cluster"]
    endpoint = cluster.get("endpoint")
    ca = (cluster.get("certificateAuthority") or {}).get("data")
    if not endpoint or not ca:
        raise ValueError(f"EKS cluster {cluster_name} has no API endpoint or CA yet (status {cluster.get('status')})")
    try:
        ca_pem = base64.b64decode(ca, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise ValueError(f"EKS cluster {cluster_name}: its certificate authority data is not base64 PEM") from exc
    return KubernetesClient(
        endpoint, EksTokenSource(session, cluster_name, region), ca_data=ca_pem, timeout_seconds=timeout_seconds
    )
