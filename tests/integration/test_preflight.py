"""Preflight checks (novacpt.adapters.preflight) with botocore's Stubber and the stand-in Kubernetes API."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from novacpt.adapters.k8s import EksTokenSource, KubernetesClient
from novacpt.adapters.preflight import QUOTA_NAME, Check, run_checks
from novacpt.kernel.errors import PreflightFailed
from novacpt.steps.preflight import preflight_step
from novacpt_dev.k8s_standin import KubernetesStandIn
from tests.examples import recipe_summary

REGION = "us-east-1"
CLUSTER, GROUP = "nova-cpt", "nova-p5"
RIG = {
    "InstanceGroupName": GROUP,
    "InstanceType": "ml.p5.48xlarge",
    "CurrentCount": 0,
    "TargetCount": 0,
    "ExecutionRole": "arn:aws:iam::123456789012:role/rig",
    "EnvironmentConfig": {"FSxLustreConfig": {"SizeInGiB": 1200, "PerUnitStorageThroughput": 250}},
}


def _session() -> boto3.Session:
    return boto3.Session(aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret", region_name=REGION)


def _cluster(*groups: dict[str, Any]) -> dict[str, Any]:
    return {
        "ClusterArn": f"arn:aws:sagemaker:{REGION}:123456789012:cluster/abc123def456",
        "ClusterName": CLUSTER,
        "ClusterStatus": "InService",
        "CreationTime": "2026-01-01T00:00:00Z",
        "InstanceGroups": [],
        "RestrictedInstanceGroups": list(groups),
    }


def _quotas(value: float | None) -> dict[str, Any]:
    quotas = [{"ServiceCode": "sagemaker", "QuotaName": "ml.g5.xlarge for cluster usage", "Value": 4.0}]
    if value is not None:
        quotas.append({"ServiceCode": "sagemaker", "QuotaName": QUOTA_NAME, "QuotaCode": "L-X", "Value": value})
    return {"Quotas": quotas}


@pytest.fixture
def standin() -> Iterator[KubernetesStandIn]:
    with KubernetesStandIn() as server:
        yield server


def checks(
    standin: KubernetesStandIn, *, quota: float | None = 32, cluster: dict[str, Any] | None = None, replicas: int = 16
) -> list[Check]:
    session = _session()
    sagemaker, quotas = session.client("sagemaker"), session.client("service-quotas")
    with Stubber(sagemaker) as sm, Stubber(quotas) as sq:
        sq.add_response("list_service_quotas", _quotas(quota), {"ServiceCode": "sagemaker"})
        sm.add_response("describe_cluster", cluster or _cluster(RIG), {"ClusterName": CLUSTER})
        token = EksTokenSource(session, "nova-cpt-eks", REGION)
        return run_checks(
            model_key="lite",
            region=REGION,
            replicas=replicas,
            cluster=CLUSTER,
            group=GROUP,
            namespace="kubeflow",
            sagemaker=sagemaker,
            quotas=quotas,
            api=lambda: KubernetesClient(standin.url, token, allow_http=True, retries=0),
        )


def test_a_ready_deployment_passes_every_check(standin: KubernetesStandIn) -> None:
    results = checks(standin)
    assert [(c.name, c.ok) for c in results] == [
        ("images", True),
        ("quota", True),
        ("instance group", True),
        ("EKS access", True),
        ("PyTorchJob CRD", True),
        ("training operator", True),
        ("GPU device plugin", True),
        ("release hyperpod-dependencies", True),
        ("release rig-dependencies", True),
    ]
    assert "FSx 1200 GiB" in results[2].detail
    assert preflight_step(lambda r, m: results, recipe_summary()).checks[1]["ok"] is True


def test_a_quota_below_the_replicas_fails_with_what_to_do(standin: KubernetesStandIn) -> None:
    (quota,) = [c for c in checks(standin, quota=8) if not c.ok]
    assert quota.line() == (
        f"quota: '{QUOTA_NAME}' is 8, the run needs 16; request an increase of '{QUOTA_NAME}' to at least 16 "
        "in Service Quotas, or lower run.replicas"
    )
    (missing,) = [c for c in checks(standin, quota=None) if not c.ok]
    assert "no quota" in missing.detail


def test_a_cluster_without_the_group_or_its_fsx_fails(standin: KubernetesStandIn) -> None:
    other = {**RIG, "InstanceGroupName": "other"}
    (absent,) = [c for c in checks(standin, cluster=_cluster(other)) if not c.ok]
    assert absent.detail == f"{CLUSTER} has no restricted instance group {GROUP} (other)"
    bare = {k: v for k, v in RIG.items() if k != "EnvironmentConfig"}
    (no_fsx,) = [c for c in checks(standin, cluster=_cluster(bare)) if not c.ok]
    assert "no FSx for Lustre" in no_fsx.detail


def test_missing_add_ons_are_named(standin: KubernetesStandIn) -> None:
    standin.add_ons = {"customresourcedefinitions": [], "deployments": [], "daemonsets": []}
    failed = {c.name for c in checks(standin) if not c.ok}
    assert failed == {
        "PyTorchJob CRD",
        "training operator",
        "GPU device plugin",
        "release hyperpod-dependencies",
        "release rig-dependencies",
    }


def test_refused_eks_access_stops_the_kubernetes_checks(
    standin: KubernetesStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(standin, "handle", lambda *_: (403, {"message": "forbidden", "reason": "Forbidden"}))
    results = checks(standin)
    assert [c.name for c in results] == ["images", "quota", "instance group", "EKS access"]
    assert not results[-1].ok and "access entry" in results[-1].fix


def test_the_step_stops_the_run_with_one_line_per_failure() -> None:
    failing = [
        Check("quota", False, "too small", "ask for more"),
        Check("images", True, "ok"),
        Check("EKS access", False, "refused", "add an access entry"),
    ]
    with pytest.raises(PreflightFailed) as error:
        preflight_step(lambda replicas, model: failing, recipe_summary())  # Nova Lite, 16 replicas
    assert str(error.value).splitlines() == [
        "2 check(s) failed before any capacity was asked for:",
        "quota: too small; ask for more",
        "EKS access: refused; add an access entry",
    ]
