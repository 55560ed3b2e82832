"""`cpt demo`: synthesise the app, emulate AWS with moto, run the real handlers and state machine.

Only the training is simulated: the job functions talk to a stand-in Kubernetes API on loopback,
and when the job "succeeds" a simulated trainer writes the manifest and a TensorBoard event file
to the output path, as the real job would.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import boto3
from moto import mock_aws

from lambdas.preflight import cluster_checks
from novacpt.adapters.lease import GroupView, read_all
from novacpt.jobs.manifests import CONTAINER, DEFAULT_NAMESPACE, INIT_CONTAINER
from novacpt.kernel.settings import PreflightSettings
from novacpt.naming import execution_arn
from novacpt_dev.demo.account import DemoAccount
from novacpt_dev.demo.sample import write_sample_dataset
from novacpt_dev.demo.trainer import write_training_outputs
from novacpt_dev.emulator.deployment import ExecutionResult, LocalDeployment, deploy
from novacpt_dev.emulator.events import object_created_event
from novacpt_dev.emulator.invoke import handlers_in_process
from novacpt_dev.emulator.template import Templates
from novacpt_dev.fakes import cluster_on_kubernetes
from novacpt_dev.hyperpod_fake import FakeHyperPod, hyperpod_installed
from novacpt_dev.k8s_standin import REFERENCE_CRD, FinishedJob, JobScript, KubernetesStandIn, PodTrouble
from stacks.pipeline.functions import SPECS, TRIGGER

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT, REGION = "123456789012", "us-east-1"  # moto's account; a region with Nova CPT images
JOB_FOLDER = "demo"
DEFAULT_RECIPE = "nova_lite_cpt.yaml"  # the emulated cluster is configured for the recipe's model
JOB_FUNCTIONS = tuple(spec.name for spec in SPECS.values() if spec.in_cluster_network)
# Stuck jobs the demo can show: pods that never get going, each look at the job ten simulated minutes later.
STUCK = {
    "image-pull": PodTrouble("ImagePullBackOff", container=CONTAINER),
    "init-crash": PodTrouble("CrashLoopBackOff", container=INIT_CONTAINER, exit_code=2),
}
_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "demo",
    "AWS_SECRET_ACCESS_KEY": "demo",
    "AWS_DEFAULT_REGION": REGION,
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "ERROR",
    "POWERTOOLS_METRICS_NAMESPACE": "NovaCpt",
    "POWERTOOLS_METRICS_DISABLED": "true",  # no EMF lines on the demo's screen
    "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
}


@dataclass
class DemoOutcome:
    """How the demo run ended and where its records are."""

    result: ExecutionResult
    run_record: dict[str, Any] | None
    notifications: list[dict[str, str]]
    others: list[ExecutionResult] = field(default_factory=list)  # the other runs of `cpt demo --runs N`


def cluster_for(recipe: Path) -> dict[str, Any]:
    """The emulated deployment's `model` and `max_replicas` for a recipe: its own model and replica count.

    An invalid recipe changes nothing, so the pipeline refuses it as a deployment would.
    """
    from novacpt.recipe import validate_recipe_file

    try:
        model = validate_recipe_file(recipe, require_s3_paths=False).model
    except OSError:
        return {}
    if model is None:
        return {}
    return {"model": model.nova_model.key, "max_replicas": model.run.replicas}


def synthesize(out_dir: Path, cluster: dict[str, Any] | None = None) -> Path:
    """The CDK app synthesised into `out_dir` (no Lambda bundling: the handlers run from this checkout).

    `cluster` overrides `cdk.json`'s "nova-cpt" settings (the demo sets the recipe's model).
    """
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    import aws_cdk as cdk  # the CDK is slow to import: only when the demo runs

    from app import build_app

    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    context["nova-cpt"] = {**context.get("nova-cpt", {}), **(cluster or {})}
    context["aws:cdk:bundling-stacks"] = []
    app = cdk.App(context=context, outdir=str(out_dir))
    build_app(app)
    app.synth()
    return out_dir


def _job_env(local: LocalDeployment) -> dict[str, str]:
    """What the job functions need to reach the (stand-in) cluster: their settings models, as the stack writes them."""
    return PreflightSettings(
        instance_group="p5-restricted",
        account_id=ACCOUNT,
        region=REGION,
        data_bucket=local.buckets["data"],
        output_bucket=local.buckets["output"],
        archive_bucket=local.buckets["archive"],
        eks_cluster_name="nova-cpt-demo-eks",
        hyperpod_cluster_name="nova-cpt-demo",
        hyperpod_cluster_arn=f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:cluster/demo0000cluster",
        job_namespace=DEFAULT_NAMESPACE,
    ).environment()


def run_demo(
    *,
    data: Path | None,
    validation: Path | None,
    recipe: Path | None,
    fail_job: bool,
    on_state: Callable[[str], None],
    assembly: Path | None = None,
    stuck_job: str | None = None,
    p5_quota: float = 32,
    on_archived: Callable[[Any, str, str], None] | None = None,
    runs: int = 1,
) -> DemoOutcome:
    """Run one training job through the whole pipeline on this machine; nothing is left running.

    `assembly` is an already synthesised cloud assembly directory (default: synthesise now); `stuck_job`
    (a key of STUCK) makes the job's pods stick, for the watchdog to cancel it; `p5_quota` is the emulated
    account's ml.p5.48xlarge cluster-usage quota that Preflight reads. `on_archived(s3, archive_bucket,
    run_id)` is called once the run is archived, while the emulated AWS still holds it (`cpt demo --out`
    renders the run's report there). With `runs` > 1, that many jobs are dropped at once: they share the
    emulated cluster through its lease and queue, and `on_state` also hears the lease and the line change.
    """
    logging.getLogger("moto").setLevel(logging.CRITICAL)  # failed states are reported below, not as tracebacks
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    with tempfile.TemporaryDirectory(prefix="cpt-demo-") as folder:
        work = Path(folder)
        train = data or write_sample_dataset(work / "train.jsonl")
        recipe_path = recipe or ROOT / "recipes" / DEFAULT_RECIPE
        assembly = assembly or synthesize(work / "cdk.out", cluster_for(recipe_path))
        script = JobScript.failing("NCCL watchdog timeout on worker 3 (simulated)") if fail_job else JobScript()
        if stuck_job is not None:
            script = JobScript.stuck(STUCK[stuck_job], minutes_per_step=10)
        with (
            mock.patch.dict("os.environ", _ENVIRONMENT),
            mock_aws(config={"stepfunctions": {"execute_state_machine": True}}),
        ):
            s3 = boto3.client("s3", region_name=REGION)

            def trainer(finished: FinishedJob) -> None:
                output = str(((finished.recipe or {}).get("run") or {}).get("output_s3_path", ""))
                write_training_outputs(s3, output, finished.name, ACCOUNT)

            crd = REFERENCE_CRD if REFERENCE_CRD.is_file() else None  # the CRD's schema, when it is at hand
            with KubernetesStandIn(on_succeeded=trainer, default_script=script, crd=crd) as standin:
                local = deploy(Templates.from_dir(assembly, account=ACCOUNT, region=REGION))
                job_env = _job_env(local)

                def env(function: str) -> dict[str, str]:
                    knobs = {"POLL_INTERVAL_SECONDS": "1"}
                    return (
                        {**knobs, **job_env} if function.removeprefix("Functions").startswith(JOB_FUNCTIONS) else knobs
                    )

                account = DemoAccount(job_env["HYPERPOD_CLUSTER_NAME"], job_env["INSTANCE_GROUP"], p5_quota)
                with (
                    standin.as_the_cluster(),
                    mock.patch("lambdas.preflight.aws_clients", lambda _: (account, account)),
                    handlers_in_process(env=env, cluster=cluster_on_kubernetes, preflight=cluster_checks),
                    hyperpod_installed(FakeHyperPod(job_env["HYPERPOD_CLUSTER_NAME"], job_env["INSTANCE_GROUP"])),
                ):
                    folders = [JOB_FOLDER] if runs == 1 else [f"{JOB_FOLDER}-{n}" for n in range(1, runs + 1)]
                    arns = [_drop(local, s3, train, validation, recipe_path, folder) for folder in folders]
                    if runs == 1:
                        result = local.wait(arns[0], timeout_s=300, on_state=on_state)
                    else:
                        result, *others = follow_shared(local, arns, on_state)
                    record = _run_record(local, s3, result)
                    if on_archived is not None and record is not None:
                        on_archived(s3, local.buckets["archive"], str(record.get("run_id")))
                    notifications = local.notifications()
                    return DemoOutcome(result, record, notifications, others if runs > 1 else [])


def _drop(
    local: LocalDeployment, s3: Any, train: Path, validation: Path | None, recipe: Path, folder: str = JOB_FOLDER
) -> str:
    """Upload as a user would (data first, the recipe last) and deliver the S3 event to the trigger."""
    data = local.buckets["data"]
    s3.put_object(Bucket=data, Key=f"jobs/{folder}/train.jsonl", Body=train.read_bytes())
    if validation:
        s3.put_object(Bucket=data, Key=f"jobs/{folder}/validation.jsonl", Body=validation.read_bytes())
    key = f"jobs/{folder}/recipe.yaml"
    version = s3.put_object(Bucket=data, Key=key, Body=recipe.read_bytes()).get("VersionId")
    event = object_created_event(data, key, version, account=ACCOUNT, region=REGION)
    lambda_ = boto3.client("lambda", region_name=REGION)
    (trigger,) = [f["FunctionName"] for f in lambda_.list_functions()["Functions"] if TRIGGER.name in f["FunctionName"]]
    answer = json.loads(lambda_.invoke(FunctionName=trigger, Payload=json.dumps(event))["Payload"].read())
    if "execution_name" not in answer:
        raise RuntimeError(f"the trigger did not start a run: {answer}")
    return execution_arn(local.state_machine_arn, str(answer["execution_name"]))


def follow_shared(
    local: LocalDeployment, arns: list[str], on_state: Callable[[str], None], *, timeout_s: float = 600.0
) -> list[ExecutionResult]:
    """Follow several runs at once: each one's states (prefixed with its execution name), and the cluster's
    lease and line whenever they change; the runs' results, in the order of `arns`."""
    sfn = boto3.client("stepfunctions", region_name=REGION)
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    seen = dict.fromkeys(arns, 0)
    shown = ""
    deadline = time.monotonic() + timeout_s
    while True:
        for arn in arns:
            events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
            entered = [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]
            for state in entered[seen[arn] :]:
                on_state(f"{arn.rsplit(':', 1)[-1]}: {state}")
            seen[arn] = len(entered)
        view = " | ".join(_cluster_line(v) for v in read_all(dynamodb, local.lease_table))
        if view and view != shown:
            on_state(f"cluster: {view}")
            shown = view
        statuses = [sfn.describe_execution(executionArn=arn)["status"] for arn in arns]
        if "RUNNING" not in statuses or time.monotonic() > deadline:
            return [local.wait(arn, timeout_s=10) for arn in arns]
        time.sleep(0.2)


def _cluster_line(view: GroupView) -> str:
    owner = "lease free" if view.lease is None else f"lease held by {view.lease.owner} ({view.lease.state})"
    line = ", ".join(f"{n}. {e.execution}" for n, e in enumerate(view.queue, 1))
    return f"{owner}; in line: {line or 'nobody'}"


def _run_record(local: LocalDeployment, s3: Any, result: ExecutionResult) -> dict[str, Any] | None:
    name = result.arn.rsplit(":", 1)[-1]
    for _ in range(3):
        try:
            body = s3.get_object(Bucket=local.buckets["archive"], Key=f"runs/{name}/run.json")["Body"]
            record: dict[str, Any] = json.loads(body.read())
            return record
        except s3.exceptions.NoSuchKey:
            time.sleep(0.1)
    return None
