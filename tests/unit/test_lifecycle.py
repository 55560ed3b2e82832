"""make deploy / make destroy helpers: bootstrap check, output summary, refusal while a run holds the cluster."""

from __future__ import annotations

import datetime
import subprocess
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from novacpt_cli import lifecycle
from tests.conftest import ROOT

ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:Run"


def _cloudformation(stacks: dict[str, dict[str, str] | None]) -> Any:
    client = boto3.client("cloudformation", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(client)
    for name, outputs in stacks.items():
        if outputs is None:
            stubber.add_client_error(
                "describe_stacks", "ValidationError", f"Stack with id {name} does not exist", 400, {"StackName": name}
            )
        else:
            stack = {
                "StackName": name,
                "CreationTime": datetime.datetime(2026, 1, 1),
                "StackStatus": "CREATE_COMPLETE",
                "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in outputs.items()],
            }
            stubber.add_response("describe_stacks", {"Stacks": [stack]}, {"StackName": name})
    stubber.activate()
    return client


class _Session:
    def __init__(self, **clients: Any) -> None:
        self.clients = clients

    def client(self, service: str) -> Any:
        return self.clients[service]


def _sfn(running: list[str]) -> Any:
    client = boto3.client("stepfunctions", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(client)
    executions = [
        {
            "executionArn": f"{ARN}:{name}",
            "stateMachineArn": ARN,
            "name": name,
            "status": "RUNNING",
            "startDate": datetime.datetime(2026, 1, 1, 3, 0),
        }
        for name in running
    ]
    stubber.add_response(
        "list_executions", {"executions": executions}, {"stateMachineArn": ARN, "statusFilter": "RUNNING"}
    )
    stubber.activate()
    return client


def test_bootstrapped_when_the_toolkit_stack_exists() -> None:
    assert lifecycle.bootstrapped(_cloudformation({"CDKToolkit": {}}))
    assert not lifecycle.bootstrapped(_cloudformation({"CDKToolkit": None}))


NO_LEASE_TABLE = {"NovaCptStorage": {}, "NovaCptCluster": {}}


def test_destroy_is_refused_while_a_run_is_running() -> None:
    stacks = {"NovaCptPipeline": {"StateMachineArn": ARN}, **NO_LEASE_TABLE}
    session = _Session(cloudformation=_cloudformation(stacks), stepfunctions=_sfn(["pharma-1"]))
    (reason,) = lifecycle.refuse_reasons(session)
    assert "pharma-1 is RUNNING" in reason and "make destroy again" in reason


def test_destroy_goes_ahead_when_nothing_runs_or_nothing_is_deployed() -> None:
    stacks = {"NovaCptPipeline": {"StateMachineArn": ARN}, **NO_LEASE_TABLE}
    idle = _Session(cloudformation=_cloudformation(stacks), stepfunctions=_sfn([]))
    assert lifecycle.refuse_reasons(idle) == []
    nothing = {"NovaCptPipeline": None, "NovaCptStorage": None, "NovaCptCluster": None}
    assert lifecycle.refuse_reasons(_Session(cloudformation=_cloudformation(nothing))) == []


def test_destroy_is_refused_while_a_run_holds_the_capacity_lease() -> None:
    from moto import mock_aws

    stacks = {
        "NovaCptPipeline": None,
        "NovaCptStorage": {"LeaseTableName": "leases"},
        "NovaCptCluster": {"InstanceGroupName": "nova-p5"},
    }
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        dynamodb.create_table(
            TableName="leases",
            KeySchema=[{"AttributeName": "group", "KeyType": "HASH"}, {"AttributeName": "entry", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "group", "AttributeType": "S"},
                {"AttributeName": "entry", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        free = _Session(cloudformation=_cloudformation(stacks), dynamodb=dynamodb)
        assert lifecycle.refuse_reasons(free) == []
        lease = {"owner": "run-a", "acquired_at": "2026-11-30T01:00:00Z", "job_name": "job-a"}
        item = {"group": {"S": "nova-p5"}, "entry": {"S": "lease"}, "replicas": {"N": "16"}}
        item |= {key: {"S": value} for key, value in lease.items()}
        dynamodb.put_item(TableName="leases", Item=item)
        held = _Session(cloudformation=_cloudformation(stacks), dynamodb=dynamodb)
        (reason,) = lifecycle.refuse_reasons(held)
    assert "run run-a" in reason and "job job-a on 16 instances" in reason and "capacity lease" in reason


def test_summary_names_buckets_dashboard_and_console() -> None:
    lines = lifecycle.summary(
        {
            "NovaCptStorage": {"DataBucketName": "data-b", "ArchiveBucketName": "archive-b", "KmsKeyArn": "k"},
            "NovaCptPipeline": {"DashboardUrl": "https://dash", "StateMachineConsoleUrl": "https://sfn"},
        }
    )
    assert lines == [
        "DataBucketName: data-b",
        "ArchiveBucketName: archive-b",
        "Dashboard: https://dash",
        "Runs: https://sfn",
    ]


def test_retained_lists_buckets_and_key_and_how_to_delete_them() -> None:
    text = "\n".join(lifecycle.retained({"DataBucketName": "data-b", "KmsKeyArn": "arn:aws:kms:key/1"}))
    assert "s3://data-b" in text and "arn:aws:kms:key/1" in text
    assert "schedule-key-deletion" in text and "version" in text


@pytest.mark.parametrize("target", ["deploy", "destroy", "unit"])
def test_make_targets_exist(target: str) -> None:
    dry = subprocess.run(["make", "-n", target], cwd=ROOT, capture_output=True, text=True, check=False)
    assert dry.returncode == 0, dry.stderr
    if target == "destroy":  # pipeline first, storage last
        order = [dry.stdout.find(s) for s in ("NovaCptPipeline", "NovaCptCluster", "NovaCptStorage")]
        assert -1 not in order and order == sorted(order)


def test_license_is_apache_2() -> None:
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0" in text and "END OF TERMS AND CONDITIONS" in text
