"""`cpt doctor`: the preflight checks against deployed stacks (moto), Stubber clients and the stand-in API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws
from typer.testing import CliRunner

from novacpt.adapters.k8s import EksTokenSource, KubernetesClient
from novacpt.adapters.preflight import QUOTA_NAME
from novacpt_cli import app
from novacpt_dev.k8s_standin import KubernetesStandIn

REGION = "us-east-1"
runner = CliRunner()
RIG = {
    "InstanceGroupName": "nova-p5",
    "InstanceType": "ml.p5.48xlarge",
    "CurrentCount": 0,
    "TargetCount": 0,
    "ExecutionRole": "arn:aws:iam::123456789012:role/rig",
    "EnvironmentConfig": {"FSxLustreConfig": {"SizeInGiB": 1200, "PerUnitStorageThroughput": 250}},
}


def _stack(cloudformation: Any, name: str, outputs: dict[str, str], resources: dict[str, Any] | None = None) -> None:
    template = {
        "Resources": resources or {"Nothing": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    cloudformation.create_stack(StackName=name, TemplateBody=json.dumps(template))


@pytest.fixture
def deployed(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    with mock_aws(), KubernetesStandIn() as standin:
        cloudformation = boto3.client("cloudformation", region_name=REGION)
        role = {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "RoleName": "preflight-role",
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "lambda.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                },
            },
        }
        _stack(
            cloudformation,
            "NovaCptPipeline",
            {"ClusterModel": "lite", "MaxReplicas": "16"},
            {"FunctionsPreflightRoleAB12CD34": role},
        )
        _stack(
            cloudformation,
            "NovaCptCluster",
            {"HyperPodClusterName": "nova-cpt", "EksClusterName": "nova-cpt-eks", "InstanceGroupName": "nova-p5"},
        )
        session = boto3.Session(region_name=REGION)
        clients = {
            "cloudformation": cloudformation,
            "sagemaker": session.client("sagemaker"),
            "service-quotas": session.client("service-quotas"),
            "eks": session.client("eks"),
        }
        monkeypatch.setattr("novacpt_cli.doctor.aws_clients", lambda _: clients)
        token = EksTokenSource(session, "nova-cpt-eks", REGION)
        monkeypatch.setattr(
            "novacpt_cli.doctor.connect_eks",
            lambda *_: KubernetesClient(standin.url, token, allow_http=True, retries=0),
        )
        yield {"clients": clients, "standin": standin}


def _stub(clients: dict[str, Any], quota: float, groups: list[str]) -> list[Stubber]:
    quotas, sagemaker, eks = Stubber(clients["service-quotas"]), Stubber(clients["sagemaker"]), Stubber(clients["eks"])
    quotas.add_response("list_service_quotas", {"Quotas": [{"QuotaName": QUOTA_NAME, "Value": quota}]})
    cluster = {
        "ClusterArn": "arn:aws:sagemaker:us-east-1:123456789012:cluster/abc123def456",
        "ClusterName": "nova-cpt",
        "ClusterStatus": "InService",
        "InstanceGroups": [],
        "RestrictedInstanceGroups": [RIG],
    }
    sagemaker.add_response("describe_cluster", cluster, {"ClusterName": "nova-cpt"})
    role = "arn:aws:iam::123456789012:role/preflight-role"
    entry = {"clusterName": "nova-cpt-eks", "principalArn": role, "kubernetesGroups": groups}
    eks.add_response(
        "describe_access_entry", {"accessEntry": entry}, {"clusterName": "nova-cpt-eks", "principalArn": role}
    )
    for stub in (quotas, sagemaker, eks):
        stub.activate()
    return [quotas, sagemaker, eks]


def test_a_ready_deployment_passes_with_a_table_and_exit_0(deployed: dict[str, Any]) -> None:
    _stub(deployed["clients"], 32, ["nova-cpt-jobs"])
    result = runner.invoke(app, ["doctor"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split("\t") == ["check", "result", "detail"]
    assert [line.split("\t")[:2] for line in lines[1:]] == [
        [name, "ok"]
        for name in (
            "images",
            "quota",
            "instance group",
            "EKS access",
            "PyTorchJob CRD",
            "training operator",
            "GPU device plugin",
            "release hyperpod-dependencies",
            "release rig-dependencies",
            "function EKS access",
        )
    ]


def test_failures_are_one_line_each_and_json_is_one_object(deployed: dict[str, Any]) -> None:
    _stub(deployed["clients"], 8, ["system:masters"])
    deployed["standin"].add_ons["daemonsets"] = []
    result = runner.invoke(app, ["doctor", "--json"])
    assert result.exit_code == 1
    payload = json.loads(result.stdout)
    failed = {c["name"]: c for c in payload["checks"] if not c["ok"]}
    assert payload["ok"] is False
    assert set(failed) == {"quota", "GPU device plugin", "release rig-dependencies", "function EKS access"}
    assert failed["quota"]["detail"] == f"'{QUOTA_NAME}' is 8, the run needs 16"
    assert "Service Quotas" in failed["quota"]["fix"]


def test_stacks_not_deployed_is_a_usage_error() -> None:
    with mock_aws():
        result = runner.invoke(app, ["doctor"])
    assert result.exit_code == 2
    assert "cannot read the deployed stacks" in result.output and result.output.count("\n") == 1
