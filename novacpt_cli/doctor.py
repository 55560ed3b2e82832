"""`cpt doctor`: the preflight checks against the deployed stacks, read-only, as a table or one JSON object.

The same checks as the pipeline's Preflight state (novacpt.adapters.preflight), run with your credentials:
the region's images, the P5 cluster-usage quota, the restricted instance group and its FSx, the add-ons
(through the Kubernetes API, with your EKS access), and the pipeline function's EKS access entry.
"""

from __future__ import annotations

from typing import Annotated, Any

import boto3
import typer
from botocore.exceptions import BotoCoreError, ClientError

from novacpt.adapters.k8s.eks import connect_eks
from novacpt.adapters.preflight import Check, function_access, run_checks
from novacpt.catalog import BY_KEY
from novacpt.jobs.manifests import DEFAULT_NAMESPACE
from novacpt_cli.cluster import CLUSTER_MODEL_OUTPUT, MAX_REPLICAS_OUTPUT
from novacpt_cli.common import EXIT_INVALID, EXIT_VALID, fail_usage
from novacpt_cli.deployed import PIPELINE_STACK
from novacpt_cli.errors import explain
from novacpt_cli.output import emit_json
from novacpt_cli.remote import _print_table

CLUSTER_STACK = "NovaCptCluster"
JOB_GROUP = "nova-cpt-jobs"  # the Kubernetes group of the job functions' access entries
# The cluster stack's outputs (stacks/cluster/stack.py).
_CLUSTER_OUTPUTS = ("HyperPodClusterName", "EksClusterName", "InstanceGroupName")


def aws_clients(session: Any) -> dict[str, Any]:
    """The read-only clients doctor uses (tests put stubbed ones here)."""
    return {name: session.client(name) for name in ("cloudformation", "sagemaker", "service-quotas", "eks")}


def doctor(
    replicas: Annotated[
        int | None, typer.Option(min=1, help="Instances to check the quota for (default: the deployment's max).")
    ] = None,
    stack: Annotated[str, typer.Option("--stack", help="Name of the pipeline stack.")] = PIPELINE_STACK,
    cluster_stack: Annotated[str, typer.Option("--cluster-stack", help="Name of the cluster stack.")] = CLUSTER_STACK,
    region: Annotated[str | None, typer.Option(help="AWS region (default: your AWS configuration's).")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Check a deployed stack before a run (read-only): exit 0 when every check holds, 1 when one fails."""
    session = boto3.session.Session(region_name=region)
    clients = aws_clients(session)
    try:
        pipeline = _outputs(clients["cloudformation"], stack)
        cluster = _outputs(clients["cloudformation"], cluster_stack)
        role_arn = _preflight_role(clients["cloudformation"], stack, session)
    except (ClientError, BotoCoreError, KeyError) as exc:
        raise fail_usage(f"cannot read the deployed stacks {stack} and {cluster_stack}: {explain(exc) or exc}") from exc
    missing = [key for key in (*_CLUSTER_OUTPUTS,) if key not in cluster] + [
        key for key in (CLUSTER_MODEL_OUTPUT, MAX_REPLICAS_OUTPUT) if key not in pipeline
    ]
    if missing or pipeline.get(CLUSTER_MODEL_OUTPUT) not in BY_KEY:
        raise fail_usage(f"the deployed stacks lack the outputs {', '.join(missing) or CLUSTER_MODEL_OUTPUT}: redeploy")
    hyperpod, eks_name, group = (cluster[key] for key in _CLUSTER_OUTPUTS)
    checks = run_checks(
        model_key=pipeline[CLUSTER_MODEL_OUTPUT],
        region=session.region_name or "",
        replicas=replicas or int(pipeline[MAX_REPLICAS_OUTPUT]),
        cluster=hyperpod,
        group=group,
        namespace=DEFAULT_NAMESPACE,
        sagemaker=clients["sagemaker"],
        quotas=clients["service-quotas"],
        api=lambda: connect_eks(session, eks_name, session.region_name or ""),
    )
    checks.append(
        function_access(clients["eks"], eks_name, role_arn, JOB_GROUP)
        if role_arn
        else Check("function EKS access", False, f"no Preflight function role in {stack}", "redeploy it")
    )
    _report(checks, json_out)


def _report(checks: list[Check], json_out: bool) -> None:
    ok = all(c.ok for c in checks)
    if json_out:
        emit_json({"ok": ok, "checks": [c.to_dict() for c in checks]})
    else:
        rows = [(c.name, "ok" if c.ok else "FAIL", c.detail + ("" if c.ok else f"; {c.fix}")) for c in checks]
        _print_table(("check", "result", "detail"), rows)
    raise typer.Exit(EXIT_VALID if ok else EXIT_INVALID)


def _outputs(cloudformation: Any, stack: str) -> dict[str, str]:
    (found,) = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    return {o["OutputKey"]: o["OutputValue"] for o in found.get("Outputs", [])}


def _preflight_role(cloudformation: Any, stack: str, session: Any) -> str:
    """The ARN of the Preflight function's role (the job functions' roles share its access entry group)."""
    pages = cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack)
    for page in pages:
        for resource in page.get("StackResourceSummaries", []):
            if resource["ResourceType"] == "AWS::IAM::Role" and resource["LogicalResourceId"].startswith(
                "FunctionsPreflightRole"
            ):
                account = session.client("sts").get_caller_identity()["Account"]
                return f"arn:aws:iam::{account}:role/{resource['PhysicalResourceId']}"
    return ""
