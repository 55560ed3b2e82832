"""What must hold before any P5 capacity is asked for (the Preflight state and `cpt doctor`), read-only.

Each check gives one line: what was found, and for a failure, what to do. The clients are injected
(SageMaker, Service Quotas, a Kubernetes API client), so the same checks run in the pipeline's function
and from a workstation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from novacpt.adapters.k8s.client import CRDS, DAEMONSETS, DEPLOYMENTS, PODS, KubernetesClient, KubernetesError
from novacpt.catalog import BY_KEY, INSTANCE_TYPE, UnsupportedRegion, training_image_uri

QUOTA_SERVICE = "sagemaker"
QUOTA_NAME = f"{INSTANCE_TYPE} for cluster usage"
PYTORCHJOB_CRD = "pytorchjobs.kubeflow.org"
HELM_RELEASE = "meta.helm.sh/release-name"
RELEASES = ("hyperpod-dependencies", "rig-dependencies")  # stacks/hyperpod_dependencies.py installs both


@dataclass(frozen=True, slots=True)
class Check:
    """One check: its name, whether it holds, what was found, and what to do when it does not."""

    name: str
    ok: bool
    detail: str
    fix: str = ""

    def line(self) -> str:
        """`name: detail; fix` (the fix only for a failure)."""
        return f"{self.name}: {self.detail}" + (f"; {self.fix}" if not self.ok and self.fix else "")

    def to_dict(self) -> dict[str, Any]:
        """The check as JSON-ready data."""
        return asdict(self)


def images(model_key: str, region: str) -> Check:
    """The region serves the Nova CPT training image of the recipe's model."""
    try:
        uri = training_image_uri(BY_KEY[model_key], region)
    except UnsupportedRegion as exc:
        return Check("images", False, str(exc), "deploy in a region with Nova CPT images")
    return Check("images", True, uri)


def quota(quotas: Any, replicas: int) -> Check:
    """The account's Service Quota for P5 cluster usage covers `replicas` instances."""
    try:
        value = quota_value(quotas)
    except (ClientError, BotoCoreError) as exc:
        return Check("quota", False, f"cannot read the quota {QUOTA_NAME!r}: {exc}", "allow servicequotas reads")
    if value is None:
        fix = f"request the quota {QUOTA_NAME!r} in Service Quotas (SageMaker)"
        return Check("quota", False, f"no quota {QUOTA_NAME!r} in this account and region", fix)
    if value < replicas:
        fix = f"request an increase of {QUOTA_NAME!r} to at least {replicas} in Service Quotas, or lower run.replicas"
        return Check("quota", False, f"{QUOTA_NAME!r} is {value:g}, the run needs {replicas}", fix)
    return Check("quota", True, f"{QUOTA_NAME!r} is {value:g}, the run needs {replicas}")


def quota_value(quotas: Any) -> float | None:
    """The applied value of the P5 cluster-usage quota, or None when the account has none."""
    for page in quotas.get_paginator("list_service_quotas").paginate(ServiceCode=QUOTA_SERVICE):
        for entry in page.get("Quotas", []):
            if entry.get("QuotaName") == QUOTA_NAME:
                return float(entry["Value"])
    return None


def restricted_group(sagemaker: Any, cluster: str, group: str) -> Check:
    """The HyperPod cluster has the restricted instance group, with its FSx for Lustre file system."""
    fix = "deploy NovaCptCluster, or set existing_cluster_name and instance_group_name to your RIG"
    try:
        described = sagemaker.describe_cluster(ClusterName=cluster)
    except (ClientError, BotoCoreError) as exc:
        return Check("instance group", False, f"cannot describe HyperPod cluster {cluster}: {exc}", fix)
    groups = {g.get("InstanceGroupName"): g for g in described.get("RestrictedInstanceGroups") or []}
    found = groups.get(group)
    if found is None:
        names = ", ".join(sorted(str(n) for n in groups)) or "none"
        return Check("instance group", False, f"{cluster} has no restricted instance group {group} ({names})", fix)
    fsx = ((found.get("EnvironmentConfig") or {}).get("FSxLustreConfig")) or {}
    if not fsx:
        fix = "recreate the group with an FSx for Lustre file system (EnvironmentConfig.FSxLustreConfig)"
        return Check("instance group", False, f"restricted instance group {group} has no FSx for Lustre", fix)
    status = described.get("ClusterStatus", "?")
    detail = f"{cluster} ({status}) has {group}: {found.get('InstanceType')}, FSx {fsx.get('SizeInGiB')} GiB"
    return Check("instance group", True, detail)


def eks_access(api: KubernetesClient, namespace: str) -> Check:
    """The caller's EKS access works: it may list the pods of the jobs' namespace."""
    try:
        api.list(PODS, namespace, label_selector="app.kubernetes.io/managed-by=novacpt")
    except KubernetesError as exc:
        fix = "check the EKS access entry of the caller (group nova-cpt-jobs) and the installer's Role binding"
        return Check("EKS access", False, f"the Kubernetes API refused or did not answer: {exc}", fix)
    except (ClientError, BotoCoreError, ValueError) as exc:
        return Check("EKS access", False, f"cannot connect to the EKS cluster: {exc}", "check the EKS cluster name")
    return Check("EKS access", True, f"may list pods in namespace {namespace}")


def dependencies(api: KubernetesClient) -> list[Check]:
    """The HyperPod and RIG dependency releases, the training operator and the device plugin are installed."""
    fix = "install the HyperPod dependencies chart (start the stack's DependenciesInstaller CodeBuild project)"
    try:
        crd = api.get_cluster(CRDS, PYTORCHJOB_CRD)
        deployments = api.list_cluster(DEPLOYMENTS)
        daemonsets = api.list_cluster(DAEMONSETS)
    except KubernetesError as exc:
        return [Check("dependencies", False, f"cannot read the cluster's add-ons: {exc}", fix)]
    found = deployments + daemonsets
    checks = [
        Check("PyTorchJob CRD", crd is not None, f"{PYTORCHJOB_CRD} " + ("installed" if crd else "missing"), fix),
        _workload("training operator", deployments, "training-operator", fix),
        _workload("GPU device plugin", daemonsets, "nvidia-device-plugin", fix),
    ]
    for release in RELEASES:
        count = sum(1 for obj in found if _annotations(obj).get(HELM_RELEASE) == release)
        detail = f"Helm release {release}: " + (f"{count} workloads" if count else "no workload of it found")
        checks.append(Check(f"release {release}", count > 0, detail, fix))
    return checks


def run_checks(
    *,
    model_key: str,
    region: str,
    replicas: int,
    cluster: str,
    group: str,
    namespace: str,
    sagemaker: Any,
    quotas: Any,
    api: Callable[[], KubernetesClient],
) -> list[Check]:
    """Every check, in order; the Kubernetes ones only when the API can be reached."""
    checks = [images(model_key, region), quota(quotas, replicas), restricted_group(sagemaker, cluster, group)]
    try:
        client = api()
    except (ClientError, BotoCoreError, ValueError) as exc:
        return [*checks, Check("EKS access", False, f"cannot connect to the EKS cluster: {exc}", "check its name")]
    access = eks_access(client, namespace)
    return [*checks, access, *(dependencies(client) if access.ok else [])]


def function_access(eks: Any, cluster: str, role_arn: str, group: str) -> Check:
    """The pipeline function's role has an EKS access entry in the Kubernetes group the installer binds."""
    name = role_arn.rsplit("/", 1)[-1]
    fix = "redeploy NovaCptPipeline (it adds the access entries), or add one for the role in group " + group
    try:
        entry = eks.describe_access_entry(clusterName=cluster, principalArn=role_arn)["accessEntry"]
    except (ClientError, BotoCoreError) as exc:
        return Check("function EKS access", False, f"no access entry for {name} on {cluster}: {exc}", fix)
    groups = entry.get("kubernetesGroups") or []
    if group not in groups:
        return Check("function EKS access", False, f"{name} is in groups {groups or 'none'}, not {group}", fix)
    return Check("function EKS access", True, f"{name} is in Kubernetes group {group} on {cluster}")


def failures(checks: list[Check]) -> str:
    """The failed checks, one line each (empty when all hold)."""
    return "\n".join(c.line() for c in checks if not c.ok)


def _workload(name: str, objects: list[dict[str, Any]], part: str, fix: str) -> Check:
    """A deployment or daemonset whose name contains `part` exists (at rest a RIG cluster may have no node
    to run it on: it starts with the first instance, so readiness is reported, not required)."""
    matches = [o for o in objects if part in str((o.get("metadata") or {}).get("name", ""))]
    if not matches:
        return Check(name, False, f"no workload named *{part}* on the cluster", fix)
    obj = matches[0]
    meta, status = obj.get("metadata") or {}, obj.get("status") or {}
    ready = status.get("availableReplicas", status.get("numberAvailable", 0)) or 0
    wanted = status.get("replicas", status.get("desiredNumberScheduled", 0)) or 0
    return Check(name, True, f"{meta.get('namespace')}/{meta.get('name')} installed, {ready}/{wanted} available")


def _annotations(obj: dict[str, Any]) -> dict[str, Any]:
    return dict((obj.get("metadata") or {}).get("annotations") or {})
