"""`cpt submit`, `status`, `watch`, `report`, `runs`, `logs`: a deployed pipeline from the terminal.

Buckets and the state machine come from the stacks' outputs. `--endpoint-url` points every call
at an emulator (moto's server) instead of AWS.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from novacpt.adapters.lease import GroupView, read_all
from novacpt.adapters.stepfunctions import follow_execution
from novacpt.drop import DROP_PREFIX, RECIPE_FILE, TRAIN_FILE, VALIDATION_FILE, drop_job
from novacpt.naming import execution_arn, execution_name
from novacpt_cli.common import (
    EXIT_INVALID,
    EXIT_VALID,
    CliError,
    fail_usage,
    load_recipe,
    recipe_limits,
    scan_dataset,
)
from novacpt_cli.deployed import PIPELINE_STACK, STORAGE_STACK, Deployed, NotDeployed, find_deployment
from novacpt_cli.errors import emit_json
from novacpt_cli.observe import show_run, watch_run, write_report
from novacpt_cli.output import print_dataset_report, print_recipe_report
from novacpt_cli.upload import upload_file

StackOpt = Annotated[str, typer.Option("--stack", help="Name of the pipeline stack.")]
StorageOpt = Annotated[str, typer.Option("--storage-stack", help="Name of the storage stack.")]
RegionOpt = Annotated[str | None, typer.Option(help="AWS region (default: your AWS configuration's).")]
EndpointOpt = Annotated[str | None, typer.Option(help="Send every AWS call here (an emulator), not to AWS.")]
_err = Console(stderr=True)


def _print_table(headers: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> None:
    """A table on a terminal; tab-separated lines (easy to script) otherwise."""
    if sys.stdout.isatty():
        table = Table(*headers)
        for row in rows:
            table.add_row(*row)
        Console().print(table)
        return
    for row in (headers, *rows):
        typer.echo("\t".join(row))


def _deployment(stack: str, storage_stack: str, region: str | None, endpoint_url: str | None) -> Deployed:
    try:
        return find_deployment(
            storage_stack=storage_stack, pipeline_stack=stack, region=region, endpoint_url=endpoint_url
        )
    except NotDeployed as exc:
        raise CliError(str(exc), kind="environment") from None


def _upload(deployed: Deployed, path: Path, key: str) -> dict[str, Any]:
    s3 = deployed.client("s3")
    size = path.stat().st_size
    if not sys.stderr.isatty():
        return upload_file(s3, path, deployed.data_bucket, key)
    with Progress(console=_err, transient=True) as bar:
        task = bar.add_task(f"uploading {path.name}", total=size)
        return upload_file(s3, path, deployed.data_bucket, key, progress=lambda done: bar.update(task, completed=done))


def submit(
    recipe: Annotated[Path, typer.Option(help="The recipe YAML (its S3 paths empty: the pipeline fills them).")],
    data: Annotated[Path, typer.Option(help="The training JSONL.")],
    validation: Annotated[Path | None, typer.Option(help="The validation JSONL.")] = None,
    job: Annotated[str | None, typer.Option(help="Job folder under jobs/ (default: run.name).")] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Follow the run until it ends.")] = False,
    stack: StackOpt = PIPELINE_STACK,
    storage_stack: StorageOpt = STORAGE_STACK,
    region: RegionOpt = None,
    endpoint_url: EndpointOpt = None,
) -> None:
    """Check locally, upload the data, then the recipe (which starts the run); exit 1 on any error."""
    report = load_recipe(recipe, {}, require_s3_paths=False)
    if report.model is None:
        print_recipe_report(str(recipe), report)
        raise typer.Exit(EXIT_INVALID)
    run = report.model.run
    if run.data_s3_path or run.validation_data_s3_path:
        raise fail_usage(f"{recipe}: leave run.data_s3_path and run.validation_data_s3_path empty; submit uploads them")
    limits = recipe_limits(report.model)
    datasets = [(data, TRAIN_FILE), *([(validation, VALIDATION_FILE)] if validation else [])]
    for path, _ in datasets:
        checked = scan_dataset(path, limits)
        if not checked.valid:
            print_dataset_report(str(path), checked)
            raise typer.Exit(EXIT_INVALID)
    folder = f"{DROP_PREFIX}{job or run.name}"
    if drop_job(f"{folder}/{RECIPE_FILE}") is None:  # the trigger would ignore the recipe: no run would start
        raise fail_usage(f"--job {job!r}: use letters, digits, '.', '_' and '-' only (at most 128)")
    deployed = _deployment(stack, storage_stack, region, endpoint_url)
    for path, name in datasets:
        _upload(deployed, path, f"{folder}/{name}")
    answer = _upload(deployed, recipe, f"{folder}/{RECIPE_FILE}")  # last: its arrival starts the run
    name = execution_name(deployed.data_bucket, f"{folder}/{RECIPE_FILE}", answer.get("VersionId"))
    typer.echo(f"uploaded s3://{deployed.data_bucket}/{folder}/; the run's execution: {name}")
    if wait:
        raise typer.Exit(_wait(deployed, name))


def _wait(deployed: Deployed, name: str, appear_timeout_s: float = 120.0) -> int:
    sfn = deployed.client("stepfunctions")
    arn = execution_arn(deployed.state_machine_arn, name)
    deadline = time.monotonic() + appear_timeout_s
    while True:  # the trigger starts it within seconds of the recipe's arrival
        try:
            sfn.describe_execution(executionArn=arn)
            break
        except sfn.exceptions.ExecutionDoesNotExist:
            if time.monotonic() > deadline:
                typer.secho(f"execution {name} did not start within {appear_timeout_s:g} s", err=True, fg="red")
                return EXIT_INVALID
            time.sleep(2)
    description, _ = follow_execution(sfn, arn, on_state=lambda state: typer.echo(f"  {state}"))
    ok = description["status"] == "SUCCEEDED"
    typer.secho(f"{name}: {description['status']}", fg="green" if ok else "red")
    if not ok:
        typer.echo(f"{description.get('error', '')}: {description.get('cause', '')}")
    return EXIT_VALID if ok else EXIT_INVALID


def status(
    run_or_job: Annotated[
        str | None, typer.Argument(metavar="[RUN|JOB]", help="A run (its execution name), or a job folder's runs.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
    stack: StackOpt = PIPELINE_STACK,
    storage_stack: StorageOpt = STORAGE_STACK,
    region: RegionOpt = None,
    endpoint_url: EndpointOpt = None,
) -> None:
    """The recent runs and where they stand (running ones: the job's restarts and a stuck pod); for one RUN:
    state, step, loss, tokens/s and ETA."""
    deployed = _deployment(stack, storage_stack, region, endpoint_url)
    sfn = deployed.client("stepfunctions")
    executions = sfn.list_executions(stateMachineArn=deployed.state_machine_arn, maxResults=100)["executions"]
    if run_or_job and any(e["name"] == run_or_job for e in executions):
        raise typer.Exit(show_run(deployed, run_or_job, as_json=as_json))
    views = _cluster_views(deployed)
    rows = [
        (
            e["name"],
            e["status"],
            str(e["startDate"]),
            str(e.get("stopDate") or ""),
            *_job_health(sfn, e),
            next((p for v in views if (p := v.place(e["name"]))), ""),
        )
        for e in executions
        if not run_or_job or e["name"].startswith(f"{run_or_job}-")
    ]
    headers = ("execution", "status", "started", "stopped", "restarts", "stuck", "cluster")
    if as_json:
        keys = ("run", *headers[1:])
        emit_json(
            {
                "runs": [dict(zip(keys, row, strict=True)) for row in rows],
                "cluster": [_view_json(v) for v in views],
            }
        )
        return
    _print_table(headers, rows)
    for view in views:
        typer.echo(_lease_line(view))
        for position, entry in enumerate(view.queue, 1):
            typer.echo(f"  in line {position}: {entry.execution} (since {entry.arrived_at})")


def _cluster_views(deployed: Deployed) -> list[GroupView]:
    """The lease and queue of each instance group ([] for a deployment without a lease table)."""
    if not deployed.lease_table:
        return []
    return read_all(deployed.client("dynamodb"), deployed.lease_table)


def _lease_line(view: GroupView) -> str:
    if view.lease is None:
        return f"cluster {view.group}: free"
    return f"cluster {view.group}: held by {view.lease.describe()}, lease {view.lease.state}"


def _view_json(view: GroupView) -> dict[str, Any]:
    lease = view.lease
    return {
        "group": view.group,
        "lease": None
        if lease is None
        else {
            "owner": lease.owner,
            "job": lease.job_name,
            "replicas": lease.replicas,
            "since": lease.acquired_at,
            "state": lease.state,
        },
        "queue": [
            {"position": n, "run": e.execution, "since": e.arrived_at, "replicas": e.replicas or None}
            for n, e in enumerate(view.queue, 1)
        ],
    }


def _job_health(sfn: Any, execution: dict[str, Any]) -> tuple[str, str]:
    """(restarts, stuck pod) from a running execution's last PollJob output; blank when there is none."""
    if execution["status"] != "RUNNING":
        return "", ""
    events = sfn.get_execution_history(executionArn=execution["executionArn"], reverseOrder=True, maxResults=100)
    for event in events.get("events", []):
        details = event.get("stateExitedEventDetails") or {}
        if details.get("name") == "PollJob":
            poll = (json.loads(details.get("output") or "{}").get("poll")) or {}
            return str(poll.get("restarts", "")), str(poll.get("stuck") or "")
    return "", ""


def watch(
    run: Annotated[str, typer.Argument(help="The run: its execution name (as `cpt submit` and `cpt status` show).")],
    interval: Annotated[float, typer.Option(min=5, help="Seconds between refreshes.")] = 60.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object (the run now) and exit.")] = False,
    stack: StackOpt = PIPELINE_STACK,
    storage_stack: StorageOpt = STORAGE_STACK,
    region: RegionOpt = None,
    endpoint_url: EndpointOpt = None,
) -> None:
    """Follow a run until it ends: state, step, loss, tokens/s, ETA (from its TensorBoard files); exit 1 if it fails."""
    deployed = _deployment(stack, storage_stack, region, endpoint_url)
    raise typer.Exit(watch_run(deployed, run, interval=interval, as_json=as_json))


def report(
    run: Annotated[str, typer.Argument(help="The run: its execution name (as `cpt runs` shows).")],
    out: Annotated[
        Path | None, typer.Option(help="Folder for report.html and the charts (default: report-RUN).")
    ] = None,
    stack: StackOpt = PIPELINE_STACK,
    storage_stack: StorageOpt = STORAGE_STACK,
    region: RegionOpt = None,
    endpoint_url: EndpointOpt = None,
) -> None:
    """Write an ended run's report: an HTML page with loss, throughput, cost and dataset charts (PNG)."""
    deployed = _deployment(stack, storage_stack, region, endpoint_url)
    page = write_report(deployed, run, out or Path(f"report-{run}"))
    typer.echo(f"report: {page}")


def runs(
    stack: StackOpt = PIPELINE_STACK,
    storage_stack: StorageOpt = STORAGE_STACK,
    region: RegionOpt = None,
    endpoint_url: EndpointOpt = None,
) -> None:
    """Archived runs: outcome, job, checkpoint (from each runs/<run>/run.json); first, the runs waiting in line."""
    deployed = _deployment(stack, storage_stack, region, endpoint_url)
    s3 = deployed.client("s3")
    rows = [
        (entry.execution, f"IN LINE {position}", "", "", "")
        for view in _cluster_views(deployed)
        for position, entry in enumerate(view.queue, 1)
    ]
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=deployed.archive_bucket, Prefix="runs/", Delimiter="/")
    for page in pages:
        for prefix in page.get("CommonPrefixes", []):
            try:
                body = s3.get_object(Bucket=deployed.archive_bucket, Key=f"{prefix['Prefix']}run.json")["Body"]
            except s3.exceptions.NoSuchKey:
                continue  # a run still in progress
            record = json.loads(body.read())
            timings = record.get("timings") or {}
            rows.append(
                (
                    record.get("run_id", ""),
                    record.get("status", ""),
                    record.get("job_name") or "",
                    record.get("checkpoint") or "",
                    timings.get("archived_at") or "",
                )
            )
    _print_table(("run", "status", "job", "checkpoint", "archived"), rows)


def logs(
    job: Annotated[str, typer.Argument(help="The job name (run.name plus its suffix, as in `cpt runs`).")],
    stack: StackOpt = PIPELINE_STACK,
    storage_stack: StorageOpt = STORAGE_STACK,
    region: RegionOpt = None,
    endpoint_url: EndpointOpt = None,
) -> None:
    """The cluster's CloudWatch log lines that name the job."""
    deployed = _deployment(stack, storage_stack, region, endpoint_url)
    cloudwatch = deployed.client("logs")
    groups = cloudwatch.describe_log_groups(logGroupNamePrefix="/aws/sagemaker/Clusters/").get("logGroups", [])
    if not groups:
        raise fail_usage("no /aws/sagemaker/Clusters/ log group in this account and region: is the cluster deployed?")
    found = 0
    for group in groups:
        pages = cloudwatch.get_paginator("filter_log_events").paginate(
            logGroupName=group["logGroupName"], filterPattern=f'"{job}"'
        )
        for page in pages:
            for event in page.get("events", []):
                typer.echo(f"{event.get('logStreamName', '')}: {event['message'].rstrip()}")
                found += 1
    if not found:
        typer.echo(f"no log lines mention {job}")
