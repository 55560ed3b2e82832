"""The cluster stack (VPC, EKS, HyperPod dependencies, HyperPod with a P5 RIG) and its wiring into the pipeline.

Every configuration below is synthesised by app.py's own `build_app` (Lambda bundling skipped), with
the cdk-nag checks it registers: a finding fails the synth. cfn-lint and checkov (skipped without
.venv-checkov, as in tests/test_checkov_gate.py) run over each variant's templates too;
tests/infra/test_cdk_gates.py runs the gates over the real app as `make synth` builds it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
import yaml

from app import build_app
from novacpt.catalog import BY_KEY
from stacks.cluster.dependencies import HYPERPOD_CLI_COMMIT, HYPERPOD_CLI_REPOSITORY
from stacks.cluster.installer_tools import PINNED_TOOLS
from stacks.cluster.network import INTERFACE_ENDPOINTS
from stacks.cluster.stack import CLUSTER_STACK_ID
from stacks.config import ConfigError
from stacks.pipeline.stack import PIPELINE_STACK_ID
from stacks.shared.nag import VALIDATION_REPORT
from stacks.storage.stack import STORAGE_STACK_ID
from tests.conftest import ROOT
from tests.infra.test_checkov_gate import run_checkov, unjustified

pytestmark = pytest.mark.slow

CDK_JSON_CONTEXT: dict[str, Any] = json.loads((ROOT / "cdk.json").read_text())["context"]
NO_BUNDLING = {"aws:cdk:bundling-stacks": []}
ADMIN = "arn:aws:iam::123456789012:role/platform-admin"
PLAN = "arn:aws:sagemaker:us-east-1:123456789012:training-plan/p5-reserved"
VARIANTS: dict[str, tuple[str | None, dict[str, Any]]] = {
    # name: (CDK_DEFAULT_REGION, nova-cpt overrides)
    "default": (None, {}),
    "us-west-2": (
        "us-west-2",
        {"region": "us-west-2", "availability_zones": ["us-west-2a", "us-west-2b", "us-west-2c"]}
        | {"rig_availability_zone": "us-west-2c"},
    ),
    "always-on": (
        None,
        {
            "model": "pro",
            "max_replicas": 24,
            "capacity_mode": "always-on",
            "training_plan_arn": PLAN,
            "deep_health_checks": False,
            "fsx_size_gib": 4800,
            "fsx_throughput_mbps_per_tib": 500,
            "eks_public_access_cidrs": ["203.0.113.0/24"],
            "eks_admin_principal_arns": [ADMIN],
            "kubernetes_version": "1.34",
            "nat_gateways": 1,
        },
    ),
    "existing": (None, {"existing_cluster_name": "team-hyperpod", "existing_eks_cluster_name": "team-eks"}),
}


@dataclass
class Synth:
    """One synthesised app: its cluster and pipeline templates and where they were written."""

    outdir: Path
    cluster: dict[str, Any]
    pipeline: dict[str, Any]
    storage: dict[str, Any]

    def of_type(self, template: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
        return {k: r for k, r in template["Resources"].items() if r["Type"] == type_}

    def only(self, template: dict[str, Any], type_: str) -> tuple[str, dict[str, Any]]:
        (item,) = self.of_type(template, type_).items()
        return item

    def machine(self, started_by: str) -> tuple[str, dict[str, Any]]:
        """The state machine that the function `started_by` starts: Trigger starts runs, ReleaseCapacity releases."""
        env = self.env(started_by)
        (arn,) = [v for k, v in env.items() if k.endswith("STATE_MACHINE_ARN")]
        machine_id = arn["Ref"]
        assert self.pipeline["Resources"][machine_id]["Type"] == "AWS::StepFunctions::StateMachine"
        return machine_id, self.pipeline["Resources"][machine_id]

    def function_id(self, name: str) -> str:
        for logical_id, resource in self.of_type(self.pipeline, "AWS::Lambda::Function").items():
            if resource["Properties"]["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"] == name:
                return logical_id
        raise KeyError(name)

    def env(self, name: str) -> dict[str, Any]:
        env: dict[str, Any] = self.pipeline["Resources"][self.function_id(name)]["Properties"]["Environment"][
            "Variables"
        ]
        return env

    def statements(self, name: str) -> list[dict[str, Any]]:
        role = self.pipeline["Resources"][self.function_id(name)]["Properties"]["Role"]["Fn::GetAtt"][0]
        return [
            statement
            for policy in self.of_type(self.pipeline, "AWS::IAM::Policy").values()
            if {"Ref": role} in policy["Properties"]["Roles"]
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        ]


def _synth(outdir: Path, region: str | None, overrides: dict[str, Any]) -> Synth:
    context = {**CDK_JSON_CONTEXT, **NO_BUNDLING, **{f"nova-cpt:{k}": v for k, v in overrides.items()}}
    saved = os.environ.pop("CDK_DEFAULT_REGION", None)
    if region:
        os.environ["CDK_DEFAULT_REGION"] = region
    try:
        app = build_app(cdk.App(context=context, outdir=str(outdir)))
        assembly = app.synth()  # cdk-nag runs here: any unacknowledged finding raises
    finally:
        os.environ.pop("CDK_DEFAULT_REGION", None)
        if saved is not None:
            os.environ["CDK_DEFAULT_REGION"] = saved
    return Synth(
        outdir,
        assembly.get_stack_by_name(CLUSTER_STACK_ID).template,
        assembly.get_stack_by_name(PIPELINE_STACK_ID).template,
        assembly.get_stack_by_name(STORAGE_STACK_ID).template,
    )


@pytest.fixture(scope="module")
def synths(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Synth]:
    return {
        name: _synth(tmp_path_factory.mktemp(name), region, overrides) for name, (region, overrides) in VARIANTS.items()
    }


@pytest.fixture(scope="module")
def default(synths: dict[str, Synth]) -> Synth:
    return synths["default"]


def _ref_of_output(value: Any) -> str:
    """The output name a cross-stack reference reads (Fn::GetStackOutput, CDK's weak references)."""
    return str(value["Fn::GetStackOutput"]["OutputName"])


def _actions(statement: dict[str, Any]) -> set[str]:
    action = statement["Action"]
    return set(action if isinstance(action, list) else [action])


# --------------------------------------------------------------------------- gates over every variant


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_every_variant_passes_cdk_nag_and_cfn_lint(synths: dict[str, Synth], variant: str) -> None:
    outdir = synths[variant].outdir
    report = json.loads((outdir / VALIDATION_REPORT).read_text())
    assert [v["ruleName"] for plugin in report["pluginReports"] for v in plugin.get("violations", [])] == []
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from cfnlint.runner import main; sys.exit(main())",
            "--format",
            "parseable",
            "--regions",
            "us-east-1",
            "us-west-2",
            "ap-northeast-1",
            "--ignore-checks",
            "W3005",
            "--",
            *map(str, sorted(outdir.glob("*.template.json"))),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.stdout.strip() == "" and result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_every_variant_passes_checkov(synths: dict[str, Synth], variant: str, tmp_path: Path) -> None:
    for template in synths[variant].outdir.glob("*.template.json"):
        (tmp_path / template.name).write_bytes(template.read_bytes())
    assert unjustified(run_checkov(tmp_path)) == []


_CONFUSED_DEPUTY_KEYS = ("aws:SourceAccount", "aws:SourceArn", "kms:EncryptionContext:aws:logs:arn", "kms:ViaService")


def test_every_kms_grant_to_a_service_is_scoped_to_this_deployment(default: Synth) -> None:
    """A key policy statement that lets an AWS service use a key says for whom (no confused deputy): the source
    account or resource, the log group's encryption context, or the one service it passes through."""
    checked = 0
    for template in (default.storage, default.cluster, default.pipeline):
        for logical_id, key in default.of_type(template, "AWS::KMS::Key").items():
            for statement in key["Properties"]["KeyPolicy"]["Statement"]:
                if "Service" not in statement.get("Principal", {}):
                    continue
                named = {k for conditions in statement.get("Condition", {}).values() for k in conditions}
                assert named & set(_CONFUSED_DEPUTY_KEYS), (logical_id, statement)
                checked += 1
    assert checked >= 3  # the storage key (S3 logging), the log keys, the topic key (CloudWatch alarms)


# --------------------------------------------------------------------------- the HyperPod cluster


def test_the_cluster_has_one_p5_restricted_instance_group_at_zero(default: Synth) -> None:
    eks_id, _ = default.only(default.cluster, "AWS::EKS::Cluster")
    _, cluster = default.only(default.cluster, "AWS::SageMaker::Cluster")
    props = cluster["Properties"]
    assert props["ClusterName"] == "nova-cpt"
    assert props["Orchestrator"] == {"Eks": {"ClusterArn": {"Fn::GetAtt": [eks_id, "Arn"]}}}
    assert props["NodeRecovery"] == "Automatic"
    assert "InstanceGroups" not in props
    (group,) = props["RestrictedInstanceGroups"]
    role_id = group["ExecutionRole"]["Fn::GetAtt"][0]
    assert group == {
        "InstanceGroupName": "nova-p5",
        "InstanceType": "ml.p5.48xlarge",
        "InstanceCount": 0,
        "ExecutionRole": {"Fn::GetAtt": [role_id, "Arn"]},
        "EnvironmentConfig": {"FSxLustreConfig": {"SizeInGiB": 1200, "PerUnitStorageThroughput": 250}},
        "InstanceStorageConfigs": [{"EbsVolumeConfig": {"VolumeSizeInGB": 500}}],
        "OnStartDeepHealthChecks": ["InstanceStress", "InstanceConnectivity"],
    }
    (subnet,) = props["VpcConfig"]["Subnets"]
    assert default.cluster["Resources"][subnet["Ref"]]["Properties"]["AvailabilityZone"] == "us-east-1a"
    (group_ref,) = props["VpcConfig"]["SecurityGroupIds"]
    assert default.cluster["Resources"][group_ref["Fn::GetAtt"][0]]["Type"] == "AWS::EC2::SecurityGroup"


def test_always_on_training_plan_and_fsx_come_from_the_config(synths: dict[str, Synth]) -> None:
    synth = synths["always-on"]
    _, cluster = synth.only(synth.cluster, "AWS::SageMaker::Cluster")
    (group,) = cluster["Properties"]["RestrictedInstanceGroups"]
    assert group["InstanceCount"] == 24
    assert group["TrainingPlanArn"] == PLAN
    assert "OnStartDeepHealthChecks" not in group
    assert group["EnvironmentConfig"] == {"FSxLustreConfig": {"SizeInGiB": 4800, "PerUnitStorageThroughput": 500}}
    env = synth.env("PrepareCapacity")
    assert (env["CAPACITY_MODE"], env["RESTING_COUNT"], env["TRAINING_PLAN"]) == ("always-on", "24", "true")
    assert synth.env("ValidateRecipe")["MAX_REPLICAS"] == "24"
    assert synth.env("ValidateRecipe")["MODEL_TYPE"] == BY_KEY["pro"].model_type


def test_the_execution_role_has_the_managed_policy_network_ecr_and_the_data_policies(default: Synth) -> None:
    _, cluster = default.only(default.cluster, "AWS::SageMaker::Cluster")
    role_id = cluster["Properties"]["RestrictedInstanceGroups"][0]["ExecutionRole"]["Fn::GetAtt"][0]
    role = default.cluster["Resources"][role_id]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "sagemaker.amazonaws.com"}
    managed = role["ManagedPolicyArns"]
    assert {
        "Fn::Join": [
            "",
            ["arn:", {"Ref": "AWS::Partition"}, ":iam::aws:policy/AmazonSageMakerClusterInstanceRolePolicy"],
        ]
    } in managed
    storage_outputs = sorted(_ref_of_output(m) for m in managed if isinstance(m, dict) and "Fn::GetStackOutput" in m)
    assert len(storage_outputs) == 2
    assert any("ReadData" in o for o in storage_outputs) and any("WriteOutputs" in o for o in storage_outputs)
    statements = [
        s
        for policy in default.of_type(default.cluster, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    actions = set().union(*(_actions(s) for s in statements))
    assert {a.split(":")[0] for a in actions} == {"ec2", "ecr"}
    assert {"ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses"} <= actions
    assert {"ecr:GetAuthorizationToken", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"} <= actions
    assert not any("*" in a for a in actions)


def _custom_call(resource: dict[str, Any]) -> str:
    return json.dumps(resource["Properties"]["Create"])


def _calls(synth: Synth) -> dict[str, tuple[str, dict[str, Any]]]:
    """The cluster stack's AwsCustomResources by the API action each one makes."""
    found = {}
    for logical_id, resource in synth.of_type(synth.cluster, "Custom::AWS").items():
        action = re.search(r'action\\":\\"(\w+)', _custom_call(resource))
        assert action is not None, logical_id
        found[action.group(1)] = (logical_id, resource)
    return found


def test_the_cluster_is_created_after_the_helm_charts_are_installed(default: Synth) -> None:
    wait_id, wait = default.only(default.cluster, "AWS::CloudFormation::WaitCondition")
    _, cluster = default.only(default.cluster, "AWS::SageMaker::Cluster")
    assert wait_id in cluster["DependsOn"]
    handle_id, _ = default.only(default.cluster, "AWS::CloudFormation::WaitConditionHandle")
    assert wait["Properties"] == {"Count": 1, "Handle": {"Ref": handle_id}, "Timeout": "3600"}
    start_id, start = _calls(default)["startBuild"]
    assert start_id in wait["DependsOn"]
    project_id, project = default.only(default.cluster, "AWS::CodeBuild::Project")
    call = _custom_call(start)
    assert "startBuild" in call and project_id in call
    props = project["Properties"]
    buildspec = props["Source"]["BuildSpec"]
    assert (
        'git fetch -q --depth 1 \\"https://github.com/$HYPERPOD_CLI_REPOSITORY.git\\" \\"$HYPERPOD_CLI_COMMIT\\"'
        in buildspec
    )
    assert "helm upgrade --install hyperpod-dependencies HyperPodHelmChart --namespace kube-system" in buildspec
    # The health-monitoring agent's image is regional (the chart defaults to us-east-1's).
    commands = json.loads(buildspec)["phases"]["build"]["commands"]
    (install,) = [c for c in commands if c.startswith("helm upgrade --install hyperpod-dependencies")]
    assert install.endswith('--set health-monitoring-agent.region="$AWS_REGION"')
    assert "yes y | bash install_rig_dependencies.sh" in buildspec and "$WAIT_HANDLE_URL" in buildspec
    variables = {v["Name"]: v for v in props["Environment"]["EnvironmentVariables"]}
    assert variables["HYPERPOD_CLI_REPOSITORY"]["Value"] == HYPERPOD_CLI_REPOSITORY == "aws/sagemaker-hyperpod-cli"
    assert variables["HYPERPOD_CLI_COMMIT"]["Value"] == HYPERPOD_CLI_COMMIT and len(HYPERPOD_CLI_COMMIT) == 40
    assert variables["EKS_CLUSTER"]["Value"] == "nova-cpt-eks" and variables["KUBECTL_VERSION"]["Value"] == "v1.33.0"
    assert props["EncryptionKey"]["Fn::GetAtt"][1] == "Arn"
    installer_subnets = {s["Ref"] for s in props["VpcConfig"]["Subnets"]}
    assert all("Installer" in s for s in installer_subnets)


def test_installer_secrets_stay_out_of_logs_and_requests(default: Synth) -> None:
    """The wait condition's presigned URL lives in a secret: CodeBuild masks it, no request or log carries it."""
    handle_id, _ = default.only(default.cluster, "AWS::CloudFormation::WaitConditionHandle")
    secret_id, secret = default.only(default.cluster, "AWS::SecretsManager::Secret")
    assert secret["Properties"]["SecretString"] == {"Ref": handle_id}
    assert secret["Properties"]["KmsKeyId"]["Fn::GetAtt"][1] == "Arn"
    _, project = default.only(default.cluster, "AWS::CodeBuild::Project")
    (signal,) = [
        v for v in project["Properties"]["Environment"]["EnvironmentVariables"] if v["Name"] == "WAIT_HANDLE_URL"
    ]
    assert signal == {"Name": "WAIT_HANDLE_URL", "Type": "SECRETS_MANAGER", "Value": {"Ref": secret_id}}
    for logical_id, resource in default.of_type(default.cluster, "Custom::AWS").items():
        for phase in ("Create", "Update"):
            call = json.dumps(resource["Properties"][phase])
            assert handle_id not in call and secret_id not in call, logical_id
            assert '\\"logApiResponseData\\":false' in call, logical_id  # no API answer in its logs


def test_downloaded_tools_are_pinned_to_checksums_kept_here(default: Synth) -> None:
    _, project = default.only(default.cluster, "AWS::CodeBuild::Project")
    buildspec = project["Properties"]["Source"]["BuildSpec"]
    for tool in PINNED_TOOLS:
        assert re.fullmatch(r"[0-9a-f]{64}", tool.sha256)
        assert f'\\"{tool.url}\\"' in buildspec and f"{tool.sha256}  {tool.file}" in buildspec
    assert ".sha256sum" not in buildspec and "archive/" not in buildspec  # no checksum fetched beside the file
    assert 'test \\"$(git rev-parse HEAD)\\" = \\"$HYPERPOD_CLI_COMMIT\\"' in buildspec


def test_installer_cluster_admin_lasts_only_for_the_installation(default: Synth) -> None:
    """No standing access entry: created before the build, deleted once the wait condition completes."""
    assert default.of_type(default.cluster, "AWS::EKS::AccessEntry") == {}
    wait_id, _ = default.only(default.cluster, "AWS::CloudFormation::WaitCondition")
    calls = _calls(default)
    grant_id, grant = calls["createAccessEntry"]
    admin_id, admin = calls["associateAccessPolicy"]
    _, start = calls["startBuild"]
    _, revoke = calls["deleteAccessEntry"]
    assert grant_id in admin["DependsOn"] and admin_id in start["DependsOn"] and wait_id in revoke["DependsOn"]
    assert "AmazonEKSClusterAdminPolicy" in _custom_call(admin) and '\\"type\\":\\"cluster\\"' in _custom_call(admin)
    # A failed installation is rolled back: deleting the grant deletes the entry too.
    assert "deleteAccessEntry" in json.dumps(grant["Properties"]["Delete"])


# --------------------------------------------------------------------------- EKS


def test_eks_uses_access_entries_a_supported_version_all_logs_and_a_private_endpoint(default: Synth) -> None:
    _, eks = default.only(default.cluster, "AWS::EKS::Cluster")
    props = eks["Properties"]
    assert props["Name"] == "nova-cpt-eks" and props["Version"] == "1.33"
    assert props["AccessConfig"] == {"AuthenticationMode": "API", "BootstrapClusterCreatorAdminPermissions": False}
    assert {t["Type"] for t in props["Logging"]["ClusterLogging"]["EnabledTypes"]} == {
        "api",
        "audit",
        "authenticator",
        "controllerManager",
        "scheduler",
    }
    vpc = props["ResourcesVpcConfig"]
    assert vpc["EndpointPrivateAccess"] is True and vpc["EndpointPublicAccess"] is False
    assert "PublicAccessCidrs" not in vpc
    assert props["EncryptionConfig"][0]["Resources"] == ["secrets"]
    zones = {default.cluster["Resources"][s["Ref"]]["Properties"]["AvailabilityZone"] for s in vpc["SubnetIds"]}
    assert zones == {"us-east-1a", "us-east-1b"}


def test_a_public_endpoint_and_admins_only_when_configured(synths: dict[str, Synth]) -> None:
    synth = synths["always-on"]
    _, eks = synth.only(synth.cluster, "AWS::EKS::Cluster")
    vpc = eks["Properties"]["ResourcesVpcConfig"]
    assert vpc["EndpointPublicAccess"] is True and vpc["PublicAccessCidrs"] == ["203.0.113.0/24"]
    assert eks["Properties"]["Version"] == "1.34"
    principals = [
        e["Properties"]["PrincipalArn"] for e in synth.of_type(synth.cluster, "AWS::EKS::AccessEntry").values()
    ]
    assert ADMIN in principals


# --------------------------------------------------------------------------- network


def test_private_subnets_in_the_configured_zones_and_the_rig_zone(synths: dict[str, Synth]) -> None:
    synth = synths["us-west-2"]
    subnets = synth.of_type(synth.cluster, "AWS::EC2::Subnet")
    cluster_zones = sorted(s["Properties"]["AvailabilityZone"] for k, s in subnets.items() if "ClusterSubnet" in k)
    assert cluster_zones == ["us-west-2a", "us-west-2b", "us-west-2c"]
    assert all(s["Properties"]["MapPublicIpOnLaunch"] is False for s in subnets.values())
    _, cluster = synth.only(synth.cluster, "AWS::SageMaker::Cluster")
    (rig_subnet,) = cluster["Properties"]["VpcConfig"]["Subnets"]
    assert subnets[rig_subnet["Ref"]]["Properties"]["AvailabilityZone"] == "us-west-2c"
    assert "ConfiguredRegion" not in synth.cluster.get("Rules", {})  # the region is known: no rule needed


def test_an_environment_agnostic_template_refuses_other_regions(default: Synth) -> None:
    rule = default.cluster["Rules"]["ConfiguredRegion"]
    assert rule["Assertions"][0]["Assert"] == {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]}


def test_s3_and_dynamodb_gateways_and_the_interface_endpoints(default: Synth) -> None:
    endpoints = default.of_type(default.cluster, "AWS::EC2::VPCEndpoint").values()
    by_type: dict[str, list[str]] = {}
    for endpoint in endpoints:
        props = endpoint["Properties"]
        service = json.dumps(props["ServiceName"])
        name = service.split(".")[-1].rstrip('"]') if "Fn::Join" in service else service
        by_type.setdefault(props.get("VpcEndpointType", "Gateway"), []).append(service)
        if props.get("VpcEndpointType") == "Interface":
            assert props["PrivateDnsEnabled"] is True
            assert all("ClusterSubnet" in s["Ref"] for s in props["SubnetIds"]), name
    gateways = sorted(by_type["Gateway"])
    assert len(gateways) == 2 and '".dynamodb"' in gateways[0] and '".s3"' in gateways[1]
    interfaces = sorted(by_type["Interface"])
    assert len(interfaces) == len(INTERFACE_ENDPOINTS) == 10
    for service in INTERFACE_ENDPOINTS:
        assert any(f'".{service}"' in s for s in interfaces), service


def _route_targets(synth: Synth, subnet_id: str) -> dict[str, Any]:
    """Where a subnet's route table sends each destination CIDR."""
    (table,) = [
        a["Properties"]["RouteTableId"]["Ref"]
        for a in synth.of_type(synth.cluster, "AWS::EC2::SubnetRouteTableAssociation").values()
        if a["Properties"]["SubnetId"] == {"Ref": subnet_id}
    ]
    return {
        r["Properties"]["DestinationCidrBlock"]: {k: v for k, v in r["Properties"].items() if k.endswith("Id")}
        for r in synth.of_type(synth.cluster, "AWS::EC2::Route").values()
        if r["Properties"]["RouteTableId"] == {"Ref": table}
    }


@pytest.mark.parametrize(("variant", "nat_gateways"), [("default", 2), ("us-west-2", 3), ("always-on", 1)])
def test_cluster_nodes_reach_the_add_on_registries_through_nat(
    synths: dict[str, Synth], variant: str, nat_gateways: int
) -> None:
    """Docker Hub (training and MPI operators) and nvcr.io (device plugin) are on the internet: the RIG's and
    the EKS control plane's subnets route there through a NAT gateway, one per zone unless configured."""
    synth = synths[variant]
    nats = synth.of_type(synth.cluster, "AWS::EC2::NatGateway")
    assert len(nats) == nat_gateways
    _, hyperpod = synth.only(synth.cluster, "AWS::SageMaker::Cluster")
    (rig_subnet,) = hyperpod["Properties"]["VpcConfig"]["Subnets"]
    _, eks = synth.only(synth.cluster, "AWS::EKS::Cluster")
    node_subnets = {rig_subnet["Ref"]} | {s["Ref"] for s in eks["Properties"]["ResourcesVpcConfig"]["SubnetIds"]}
    for subnet in node_subnets:
        default_route = _route_targets(synth, subnet)["0.0.0.0/0"]
        assert set(default_route) == {"RouteTableId", "NatGatewayId"}, subnet
        assert default_route["NatGatewayId"]["Ref"] in nats
    cluster_group = next(
        g
        for g in synth.of_type(synth.cluster, "AWS::EC2::SecurityGroup").values()
        if "HyperPod nodes" in g["Properties"]["GroupDescription"]
    )
    assert {"CidrIp": "0.0.0.0/0", "FromPort": 443, "ToPort": 443, "IpProtocol": "tcp"}.items() <= next(
        e for e in cluster_group["Properties"]["SecurityGroupEgress"] if e.get("CidrIp") == "0.0.0.0/0"
    ).items()


# Endpoint service names whose API prefix differs from the IAM action prefix.
_ENDPOINT_OF = {"sagemaker": "sagemaker.api", "ecr": "ecr.api"}


def _called_services(synth: Synth, function_id: str) -> set[str]:
    function = synth.pipeline["Resources"][function_id]["Properties"]
    role_id = function["Role"]["Fn::GetAtt"][0]
    statements = [
        s
        for policy in synth.of_type(synth.pipeline, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    for arn in synth.pipeline["Resources"][role_id]["Properties"].get("ManagedPolicyArns", []):
        if "Fn::GetStackOutput" not in arn:
            continue  # AWS managed: AWSLambdaVPCAccessExecutionRole, used by Lambda to attach the function
        output = synth.storage["Outputs"][arn["Fn::GetStackOutput"]["OutputName"]]["Value"]["Ref"]
        statements += synth.storage["Resources"][output]["Properties"]["PolicyDocument"]["Statement"]
    log_group_arn = {"Fn::GetAtt": [function["LoggingConfig"]["LogGroup"]["Ref"], "Arn"]}
    dead_letters = function.get("DeadLetterConfig", {}).get("TargetArn")
    services = set()
    for statement in statements:
        if statement["Effect"] != "Allow":
            continue
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        for action in actions:
            service = action.split(":", 1)[0]
            if service == "xray" or action == "iam:PassRole":
                continue  # traces go through Lambda's daemon; PassRole authorises, it is not a call
            if statement["Resource"] in (log_group_arn, dead_letters):
                continue  # the function's own logs and dead-letter queue: written by the Lambda service
            if service == "kms" and "kms:ViaService" in json.dumps(statement.get("Condition", {})):
                continue  # used by S3 for SSE-KMS on the function's behalf: S3 calls KMS, not the function
            services.add(_ENDPOINT_OF.get(service, service))
    return services


@pytest.mark.parametrize("variant", ["default", "us-west-2"])
def test_every_vpc_function_reaches_every_aws_api_its_role_allows(synths: dict[str, Synth], variant: str) -> None:
    """Each function in the VPC has an endpoint for each service its policies allow calling: without one, the
    call would leave through NAT (or, before NAT, time out: the abort clean-up's SageMaker UpdateCluster)."""
    synth = synths[variant]
    endpoints = set()
    for endpoint in synth.of_type(synth.cluster, "AWS::EC2::VPCEndpoint").values():
        name = endpoint["Properties"]["ServiceName"]
        joined = "".join(p for p in name["Fn::Join"][1] if isinstance(p, str)) if isinstance(name, dict) else name
        endpoints.add(re.sub(r"^com\.amazonaws\.[a-z0-9-]*\.", "", joined))
    in_vpc = {
        lid: r
        for lid, r in synth.of_type(synth.pipeline, "AWS::Lambda::Function").items()
        if "VpcConfig" in r["Properties"]
    }
    names = {r["Properties"]["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"] for r in in_vpc.values()}
    assert names == {"Preflight", "SubmitJob", "PollJob", "CancelJob", "CleanUpAborted"}
    missing = {
        r["Properties"]["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"]: sorted(
            _called_services(synth, lid) - endpoints
        )
        for lid, r in in_vpc.items()
    }
    assert missing == {name: [] for name in names}, f"endpoints: {sorted(endpoints)}"
    # The abort clean-up cancels the job (EKS), ends its place in the lease table (DynamoDB, whose key DynamoDB
    # uses on its behalf) and starts the release workflow (Step Functions); the workflow scales down, not it.
    assert _called_services(synth, synth.function_id("CleanUpAborted")) == {"eks", "dynamodb", "states"}
    assert {"sagemaker.api", "servicequotas", "eks"} <= _called_services(synth, synth.function_id("Preflight"))
    # The recipe travels in the run state; S3 only for HeadObject on the datasets (DatasetChanged).
    assert _called_services(synth, synth.function_id("SubmitJob")) == {"eks", "s3"}


def test_the_cluster_security_group_allows_itself_and_fsx_lustre(default: Synth) -> None:
    _, cluster = default.only(default.cluster, "AWS::SageMaker::Cluster")
    group_id = cluster["Properties"]["VpcConfig"]["SecurityGroupIds"][0]["Fn::GetAtt"][0]
    self_rules = [
        r["Properties"]
        for r in default.of_type(default.cluster, "AWS::EC2::SecurityGroupIngress").values()
        if r["Properties"]["GroupId"] == {"Fn::GetAtt": [group_id, "GroupId"]}
        and r["Properties"].get("SourceSecurityGroupId") == {"Fn::GetAtt": [group_id, "GroupId"]}
    ]
    ports = {(r["IpProtocol"], r.get("FromPort"), r.get("ToPort")) for r in self_rules}
    assert ports == {("-1", None, None), ("tcp", 988, 988), ("tcp", 1018, 1023)}
    egress = [
        r["Properties"]
        for r in default.of_type(default.cluster, "AWS::EC2::SecurityGroupEgress").values()
        if r["Properties"]["GroupId"] == {"Fn::GetAtt": [group_id, "GroupId"]}
    ]
    assert [(e["IpProtocol"], e["DestinationSecurityGroupId"]["Fn::GetAtt"][0]) for e in egress] == [("-1", group_id)]
    inline = default.cluster["Resources"][group_id]["Properties"]["SecurityGroupEgress"]
    assert inline == [
        {
            "CidrIp": "0.0.0.0/0",
            "Description": "HTTPS: VPC endpoints, S3, EKS API, registries",
            "FromPort": 443,
            "IpProtocol": "tcp",
            "ToPort": 443,
        }
    ]


# --------------------------------------------------------------------------- the pipeline on the cluster


def test_capacity_functions_may_only_describe_list_and_update_this_cluster(default: Synth) -> None:
    """Only PrepareCapacity (the lease's owner scaling up) and ScaleDown (the release workflow) may change the
    group's size; WatchCapacity only looks; the others that end runs (ReleaseCapacity, CleanUpAborted) start the
    release workflow instead of scaling anything themselves."""
    cluster_arn_output = _ref_of_output(default.env("SubmitJob")["HYPERPOD_CLUSTER_ARN"])
    names = [r["Properties"]["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"] for r in _functions(default)]
    sagemaker_actions = {
        name: set().union(*(_actions(s) for s in default.statements(name) if _sagemaker(s))) for name in names
    }
    assert {name: actions for name, actions in sagemaker_actions.items() if actions} == {
        "PrepareCapacity": {"sagemaker:DescribeCluster", "sagemaker:UpdateCluster", "sagemaker:ListClusterNodes"},
        "ScaleDown": {"sagemaker:DescribeCluster", "sagemaker:UpdateCluster"},
        "WatchCapacity": {"sagemaker:DescribeCluster", "sagemaker:ListClusterNodes"},
        "Preflight": {"sagemaker:DescribeCluster"},
    }
    for name, actions in sagemaker_actions.items():
        statements = default.statements(name)
        assert all(_ref_of_output(s["Resource"]) == cluster_arn_output for s in statements if _sagemaker(s)), name
        passing = [s for s in statements if "iam:PassRole" in _actions(s)]
        if "sagemaker:UpdateCluster" not in actions:
            assert passing == [], name
            continue
        (passed,) = passing
        assert passed["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
        assert "ExecutionRole" in _ref_of_output(passed["Resource"])
    release_id, _ = default.machine("ReleaseCapacity")
    for name in ("ReleaseCapacity", "CleanUpAborted"):
        (start,) = [s for s in default.statements(name) if "states:StartExecution" in _actions(s)]
        assert start["Resource"] == {"Ref": release_id}, name


def _functions(synth: Synth) -> list[dict[str, Any]]:
    return list(synth.of_type(synth.pipeline, "AWS::Lambda::Function").values())


def _sagemaker(statement: dict[str, Any]) -> bool:
    return any(a.startswith("sagemaker:") for a in _actions(statement))


def test_job_functions_run_in_the_vpc_in_the_rbac_bound_group(default: Synth) -> None:
    entries = {
        e["Properties"]["PrincipalArn"]["Fn::GetAtt"][0]: e["Properties"]
        for e in default.of_type(default.pipeline, "AWS::EKS::AccessEntry").values()
    }
    for name in ("Preflight", "SubmitJob", "PollJob", "CancelJob", "CleanUpAborted"):
        props = default.pipeline["Resources"][default.function_id(name)]["Properties"]
        assert len(props["VpcConfig"]["SubnetIds"]) == 2, name
        entry = entries[props["Role"]["Fn::GetAtt"][0]]
        assert entry["ClusterName"] == "nova-cpt-eks"
        # No EKS access policy (none reaches kubeflow.org objects): the group is bound to a namespaced Role.
        assert "AccessPolicies" not in entry
        assert entry["KubernetesGroups"] == ["nova-cpt-jobs"]
        env = default.env(name)
        assert (env["EKS_CLUSTER_NAME"], env["HYPERPOD_CLUSTER_NAME"]) == ("nova-cpt-eks", "nova-cpt")
    assert len(entries) == 5
    assert "VpcConfig" not in default.pipeline["Resources"][default.function_id("PrepareCapacity")]["Properties"]


def test_validate_recipe_knows_the_cluster_limits(default: Synth) -> None:
    env = default.env("ValidateRecipe")
    assert env["MAX_REPLICAS"] == "16" and env["MODEL_TYPE"] == "amazon.nova-lite-v1:0:300k"
    capacity = default.env("PrepareCapacity")
    assert capacity["MAX_CAPACITY_WAIT_SECONDS"] == "7200" and capacity["CAPACITY_ZONE"] == "us-east-1a"


def test_aborted_and_timed_out_runs_are_cleaned_up(default: Synth) -> None:
    machine_id, _ = default.machine("Trigger")  # the runs' state machine (the release workflow has no clean-up)
    rules = [
        r["Properties"]
        for r in default.of_type(default.pipeline, "AWS::Events::Rule").values()
        if r["Properties"].get("EventPattern", {}).get("source") == ["aws.states"]
    ]
    (rule,) = rules
    assert rule["EventPattern"] == {
        "detail-type": ["Step Functions Execution Status Change"],
        "source": ["aws.states"],
        "detail": {"status": ["ABORTED", "TIMED_OUT"], "stateMachineArn": [{"Ref": machine_id}]},
    }
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [default.function_id("CleanUpAborted"), "Arn"]}
    assert "DeadLetterConfig" in target
    function = default.pipeline["Resources"][default.function_id("CleanUpAborted")]["Properties"]
    assert function["Handler"] == "lambdas.capacity.aborted" and "DeadLetterConfig" in function


def test_instances_no_run_owns_raise_an_alarm_and_show_on_the_dashboard(default: Synth) -> None:
    """Every 5 minutes WatchCapacity measures the instances above rest while nobody holds the lease; two such
    periods in a row raise UnownedInstances on the topic, and the dashboard graphs it with the lease and queue."""
    watch_id = default.function_id("WatchCapacity")
    (rule,) = [
        r["Properties"]
        for r in default.of_type(default.pipeline, "AWS::Events::Rule").values()
        if r["Properties"].get("ScheduleExpression")
    ]
    assert rule["ScheduleExpression"] == "rate(5 minutes)"
    assert [t["Arn"] for t in rule["Targets"]] == [{"Fn::GetAtt": [watch_id, "Arn"]}]
    function = default.pipeline["Resources"][watch_id]
    assert function["Properties"]["Handler"] == "lambdas.lease.watch"
    assert "VpcConfig" not in function["Properties"]  # SageMaker, DynamoDB: public APIs; nothing private
    (skip,) = [s for s in function["Metadata"]["checkov"]["skip"] if s["id"] == "CKV_AWS_116"]
    assert "every 5 minutes" in skip["comment"]
    (topic_id, _) = default.only(default.pipeline, "AWS::SNS::Topic")
    (alarm,) = [
        a["Properties"]
        for a in default.of_type(default.pipeline, "AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("MetricName") == "UnownedInstances"
    ]
    assert alarm["Namespace"] == "NovaCpt" and alarm["Dimensions"] == [{"Name": "service", "Value": "WatchCapacity"}]
    assert (alarm["Threshold"], alarm["EvaluationPeriods"], alarm["Statistic"]) == (1, 2, "Maximum")
    assert alarm["AlarmActions"] == [{"Ref": topic_id}]
    assert "A group without an owner" in alarm["AlarmDescription"]  # the README section that says what to do
    (dashboard,) = default.of_type(default.pipeline, "AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    assert all(name in body for name in ("UnownedInstances", "LeaseHeld", "QueuedRuns"))


def _asl(synth: Synth, started_by: str = "Trigger") -> dict[str, Any]:
    """The definition of the runs' state machine (or, started_by="ReleaseCapacity", the release workflow's)."""
    _, machine = synth.machine(started_by)
    _, parts = machine["Properties"]["DefinitionString"]["Fn::Join"]
    text = "".join(p if isinstance(p, str) else "<token>" for p in parts)
    asl: dict[str, Any] = json.loads(text)
    return asl


def test_the_run_waits_for_capacity_in_a_bounded_loop(default: Synth) -> None:
    states = _asl(default)["States"]
    assert states["PrepareCapacity"]["Next"] == "CapacityReady"
    ready = states["CapacityReady"]
    assert ready["Choices"] == [{"Variable": "$.capacity.ready", "BooleanEquals": True, "Next": "SubmitJob"}]
    assert ready["Default"] == "WaitForCapacity"
    check = states["CheckCapacity"]
    assert check["Next"] == "CapacityReady" and check["ResultPath"] == "$.capacity"
    # Between looks the run waits as long as the capacity step said (read from its result, not a fixed figure).
    wait = states["WaitForCapacity"]
    assert (wait["Type"], wait["Next"]) == ("Wait", "CheckCapacity") and "Seconds" not in wait
    assert wait["SecondsPath"].startswith(f"{check['ResultPath']}.")
    assert states["PrepareCapacity"]["ResultPath"] == check["ResultPath"]  # the first look answers alike
    assert check["Parameters"] == {
        "recipe.$": "$.recipe",
        "execution_name.$": "$$.Execution.Name",  # only the lease's owner may change the group's size
        "capacity.$": "$.capacity",
    }
    assert check["Catch"][0]["Next"] == "CancelJobOnFailure"
    for release in ("ReleaseCapacity", "ReleaseCapacityOnFailure"):
        assert states[release]["Parameters"] == {"execution_name.$": "$$.Execution.Name"}, release


def test_release_is_a_bounded_loop_that_alarms_instead_of_giving_up_silently(default: Synth) -> None:
    """The release workflow looks again (ClusterBusy and throttling are not failures: ScaleDown returns
    done=false) until the group is at rest, and fails (ReleaseStuck, alarmed) only after max_release_hours."""
    _, machine = default.machine("ReleaseCapacity")
    asl = _asl(default, "ReleaseCapacity")
    states = asl["States"]
    assert asl["StartAt"] == "ScaleDown"
    scale_down = states["ScaleDown"]
    assert scale_down["Next"] == "AtRest" and scale_down["ResultPath"] == "$.scale"
    assert scale_down["Parameters"] == {"owner.$": "$.owner", "started_at.$": "$$.Execution.StartTime"}
    (retry,) = scale_down["Retry"]
    assert "TransientError" in retry["ErrorEquals"] and retry["MaxAttempts"] >= 3
    (catch,) = scale_down["Catch"]
    assert catch["ErrorEquals"] == ["States.ALL"] and states[catch["Next"]]["Type"] == "Fail"
    at_rest = states["AtRest"]
    assert at_rest["Choices"] == [{"Variable": "$.scale.done", "BooleanEquals": True, "Next": "Released"}]
    wait = states[at_rest["Default"]]
    assert (wait["Type"], wait["Next"]) == ("Wait", "ScaleDown") and "Seconds" not in wait
    assert wait["SecondsPath"].startswith(f"{scale_down['ResultPath']}.")  # as long as ScaleDown said
    assert states["Released"]["Type"] == "Succeed"
    hours = CDK_JSON_CONTEXT["nova-cpt"]["max_release_hours"]
    assert float(default.env("ScaleDown")["MAX_RELEASE_SECONDS"]) == hours * 3600
    # The workflow itself outlives the bound, so that ScaleDown's ReleaseStuck (with its message) ends it.
    assert hours * 3600 < asl["TimeoutSeconds"]
    assert machine["Properties"]["LoggingConfiguration"]["Level"] == "ALL"


# --------------------------------------------------------------------------- an existing cluster


def test_an_existing_cluster_creates_no_vpc_eks_or_hyperpod(synths: dict[str, Synth]) -> None:
    synth = synths["existing"]
    types = {r["Type"] for r in synth.cluster["Resources"].values()}
    assert not types & {"AWS::EC2::VPC", "AWS::EKS::Cluster", "AWS::SageMaker::Cluster", "AWS::CodeBuild::Project"}
    _, lookup = synth.only(synth.cluster, "Custom::AWS")
    call = json.loads(lookup["Properties"]["Create"])
    assert (call["service"], call["action"], call["parameters"]) == (
        "SageMaker",
        "describeCluster",
        {"ClusterName": "team-hyperpod"},
    )
    assert synth.cluster["Outputs"]["EksClusterName"]["Value"] == "team-eks"
    env = synth.env("SubmitJob")
    assert env["EKS_CLUSTER_NAME"] == "team-eks" and env["HYPERPOD_CLUSTER_NAME"] == "team-hyperpod"
    assert "VpcConfig" not in synth.pipeline["Resources"][synth.function_id("SubmitJob")]["Properties"]
    sagemaker = [s for s in synth.statements("PrepareCapacity") if "sagemaker:UpdateCluster" in _actions(s)]
    assert "ExistingCluster" in _ref_of_output(sagemaker[0]["Resource"])


# --------------------------------------------------------------------------- configuration errors


@pytest.mark.parametrize(
    ("overrides", "region", "expected"),
    [
        ({"region": "eu-west-1"}, None, "invalid CDK context 'nova-cpt:region': got \"eu-west-1\"; allowed: one of"),
        ({"max_replicas": 12}, None, "invalid CDK context 'nova-cpt:max_replicas': got 12; allowed: a replica count"),
        ({"model": "pro"}, None, "invalid CDK context 'nova-cpt.max_replicas': got 16; allowed: a replica count"),
        ({}, "us-west-2", "got 'us-east-1' but the CDK environment's region (CDK_DEFAULT_REGION"),
    ],
)
def test_a_bad_region_or_replica_count_stops_synthesis_with_one_line(
    tmp_path: Path, overrides: dict[str, Any], region: str | None, expected: str
) -> None:
    context = {**CDK_JSON_CONTEXT, **NO_BUNDLING, **{f"nova-cpt:{k}": v for k, v in overrides.items()}}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CDK_"))}
    env |= {"CDK_OUTDIR": str(tmp_path), "CDK_CONTEXT_JSON": json.dumps(context)}
    if region:
        env["CDK_DEFAULT_REGION"] = region
    result = subprocess.run(
        [sys.executable, "app.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip() and not line.startswith("b'")]
    assert len(lines) == 1 and expected in lines[0], result.stderr


def test_config_errors_are_config_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDK_DEFAULT_REGION", "ap-northeast-1")
    with pytest.raises(ConfigError, match="CDK_DEFAULT_REGION"):
        build_app(cdk.App(context={**CDK_JSON_CONTEXT, **NO_BUNDLING}))


@pytest.fixture(autouse=True)
def _no_default_region(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("CDK_DEFAULT_REGION", raising=False)
    yield


def test_installer_binds_the_job_group_to_a_namespaced_role(default: Synth) -> None:
    (project,) = [
        r
        for r in default.of_type(default.cluster, "AWS::CodeBuild::Project").values()
        if "HyperPod Helm charts" in r["Properties"].get("Description", "")
        or "Installs the HyperPod Helm charts" in r["Properties"].get("Description", "")
    ]
    env = {v["Name"]: v.get("Value") for v in project["Properties"]["Environment"]["EnvironmentVariables"]}
    rbac = list(yaml.safe_load_all(env["JOB_RBAC"]))
    role, binding, cluster_role, cluster_binding = rbac
    # Preflight reads, cluster-wide: the PyTorchJob CRD, and the add-ons' deployments and daemonsets.
    assert (
        cluster_role["kind"] == "ClusterRole" and cluster_binding["roleRef"]["name"] == cluster_role["metadata"]["name"]
    )
    assert {v for r in cluster_role["rules"] for v in r["verbs"]} == {"get", "list"}
    assert cluster_binding["subjects"] == [
        {"kind": "Group", "name": "nova-cpt-jobs", "apiGroup": "rbac.authorization.k8s.io"}
    ]
    assert (role["kind"], role["metadata"]) == ("Role", {"name": "nova-cpt-jobs", "namespace": "kubeflow"})
    assert {(tuple(r["apiGroups"]), tuple(r["resources"])) for r in role["rules"]} == {
        (("kubeflow.org",), ("pytorchjobs",)),
        (("",), ("configmaps",)),
        (("",), ("pods",)),
    }
    assert all("*" not in verb for r in role["rules"] for verb in r["verbs"])
    assert binding["subjects"] == [{"kind": "Group", "name": "nova-cpt-jobs", "apiGroup": "rbac.authorization.k8s.io"}]
    assert "JOB_RBAC" in json.dumps(project["Properties"]["Source"])
