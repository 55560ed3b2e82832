"""What `make deploy` and `make destroy` ask of the deployment: bootstrap state, outputs, running runs.

`python -m novacpt_cli.lifecycle bootstrapped|outputs FILE|preflight-destroy|retained FILE` (exit 0 yes
or done, 1 no or refused, 2 on an AWS configuration problem).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from novacpt_cli.deployed import PIPELINE_STACK, STORAGE_STACK
from novacpt_cli.errors import explain

BOOTSTRAP_STACK = "CDKToolkit"
BUCKET_OUTPUTS = ("DataBucketName", "OutputBucketName", "ArchiveBucketName", "AccessLogBucketName")
KEY_OUTPUT = "KmsKeyArn"
DASHBOARD_OUTPUT = "DashboardUrl"
CONSOLE_OUTPUT = "StateMachineConsoleUrl"
STATE_MACHINE_OUTPUT = "StateMachineArn"
CLUSTER_STACK = "NovaCptCluster"
LEASE_TABLE_OUTPUT = "LeaseTableName"  # the capacity lease table (storage stack)
INSTANCE_GROUP_OUTPUT = "InstanceGroupName"


def stack_outputs(cloudformation: Any, stack: str) -> dict[str, str] | None:
    """The stack's outputs, or None when the stack does not exist (or is gone)."""
    try:
        (found,) = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    except ClientError as exc:
        if "does not exist" in str(exc.response.get("Error", {}).get("Message", "")):
            return None
        raise
    if found.get("StackStatus") == "DELETE_COMPLETE":
        return None
    return {o["OutputKey"]: o["OutputValue"] for o in found.get("Outputs", [])}


def bootstrapped(cloudformation: Any) -> bool:
    """True when the account and region hold the CDK bootstrap stack."""
    return stack_outputs(cloudformation, BOOTSTRAP_STACK) is not None


def summary(outputs: dict[str, dict[str, str]]) -> list[str]:
    """The lines `make deploy` ends with: buckets, dashboard, state machine console (from `cdk --outputs-file`)."""
    storage, pipeline = outputs.get(STORAGE_STACK, {}), outputs.get(PIPELINE_STACK, {})
    lines = [f"{name}: {storage[name]}" for name in BUCKET_OUTPUTS if name in storage]
    lines += [f"{label}: {pipeline[key]}" for key, label in ((DASHBOARD_OUTPUT, "Dashboard"), (CONSOLE_OUTPUT, "Runs"))]
    return lines


def running_executions(sfn: Any, state_machine_arn: str) -> list[dict[str, Any]]:
    """Executions of the run state machine that are still RUNNING (each may hold the cluster)."""
    pages = sfn.get_paginator("list_executions").paginate(stateMachineArn=state_machine_arn, statusFilter="RUNNING")
    return [e for page in pages for e in page["executions"]]


def lease_holder(session: Any) -> str | None:
    """Who holds the P5 group's capacity lease (one line), or None (free, or no lease table deployed)."""
    cloudformation = session.client("cloudformation")
    storage = stack_outputs(cloudformation, STORAGE_STACK) or {}
    cluster = stack_outputs(cloudformation, CLUSTER_STACK) or {}
    if LEASE_TABLE_OUTPUT not in storage or INSTANCE_GROUP_OUTPUT not in cluster:
        return None
    from novacpt.adapters.lease import LeaseTable

    table = LeaseTable(session.client("dynamodb"), storage[LEASE_TABLE_OUTPUT], cluster[INSTANCE_GROUP_OUTPUT])
    lease = table.lease()
    return None if lease is None else lease.describe()


def refuse_reasons(session: Any) -> list[str]:
    """Why the stacks must not be destroyed now (empty when nothing runs and no run holds the cluster)."""
    outputs = stack_outputs(session.client("cloudformation"), PIPELINE_STACK)
    reasons = []
    if outputs and STATE_MACHINE_OUTPUT in outputs:
        running = running_executions(session.client("stepfunctions"), outputs[STATE_MACHINE_OUTPUT])
        reasons += [
            f"run {e['name']} is RUNNING (started {e['startDate']}): wait for it to end, or stop it in the Step "
            "Functions console (its clean-up releases the cluster), then run make destroy again"
            for e in running
        ]
    holder = lease_holder(session)
    if holder is not None:
        reasons.append(f"{holder} holds the cluster's P5 group (capacity lease): wait for its release to finish")
    return reasons


def retained(storage: dict[str, str]) -> list[str]:
    """What `cdk destroy` leaves (RemovalPolicy.RETAIN) and how to delete it by hand."""
    buckets = [storage[name] for name in BUCKET_OUTPUTS if name in storage]
    lines = ["Retained (RemovalPolicy.RETAIN: your data, outputs and archive stay; CloudFormation forgets them):"]
    lines += [f"  bucket s3://{bucket}" for bucket in buckets]
    if KEY_OUTPUT in storage:
        lines.append(f"  KMS key {storage[KEY_OUTPUT]} (about $1 a month; the buckets' objects need it to be read)")
    lines += [
        "To delete them, after copying what you need (irreversible):",
        "  versioned buckets: delete every object version and delete marker (S3 console: Empty), then the bucket",
        "  key: aws kms schedule-key-deletion --key-id <key arn> --pending-window-in-days 30 (only after the buckets)",
    ]
    return lines


def _main(argv: list[str]) -> int:
    command, *rest = argv or ["help"]
    session = boto3.session.Session()
    if command == "bootstrapped":
        return 0 if bootstrapped(session.client("cloudformation")) else 1
    if command == "outputs":
        print("\n".join(summary(json.loads(Path(rest[0]).read_text()))))
        return 0
    if command == "preflight-destroy":
        reasons = refuse_reasons(session)
        for reason in reasons:
            print(f"make destroy: refused: {reason}", file=sys.stderr)
        return 1 if reasons else 0
    if command == "retained":
        storage = stack_outputs(session.client("cloudformation"), STORAGE_STACK)
        if storage is not None:
            Path(rest[0]).write_text("\n".join(retained(storage)) + "\n")
        return 0
    print(__doc__, file=sys.stderr)
    return 2


def main() -> int:
    """Entry point; an AWS configuration problem is one line and exit 2, never a traceback."""
    try:
        return _main(sys.argv[1:])
    except (BotoCoreError, ClientError) as exc:
        print(f"error: {explain(exc) or exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
