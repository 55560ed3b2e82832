"""`cpt demo`: the real pipeline, end to end, on this machine (only the training is simulated)."""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from novacpt_cli.common import EXIT_INVALID, EXIT_VALID, regular_file


def _cause(raw: str | None) -> str:
    try:
        parsed = json.loads(raw or "")
    except ValueError:
        return raw or ""
    return str(parsed.get("errorMessage", raw)) if isinstance(parsed, dict) else str(raw)


def demo(
    data: Annotated[Path | None, typer.Option(help="Training JSONL (default: a generated sample).")] = None,
    validation: Annotated[Path | None, typer.Option(help="Validation JSONL.")] = None,
    recipe: Annotated[Path | None, typer.Option(help="Recipe (default: recipes/nova_lite_cpt.yaml).")] = None,
    fail_job: Annotated[bool, typer.Option("--fail-job", help="Make the simulated training job fail.")] = False,
    stuck_job: Annotated[
        bool, typer.Option("--stuck-job", help="Make the job's image pull never succeed: the watchdog cancels it.")
    ] = False,
    out: Annotated[Path | None, typer.Option(help="Write the run's report here: report.html and PNG charts.")] = None,
    runs: Annotated[
        int,
        typer.Option(min=1, max=4, help="Drop this many jobs at once: they share the cluster (lease, then queue)."),
    ] = 1,
) -> None:
    """Run the synthesised state machine with the real handlers on an AWS emulator: exit 0 when the run succeeds."""
    for path, what in ((data, "dataset file"), (validation, "dataset file"), (recipe, "recipe file")):
        if path is not None:  # before the 10 s of synthesis, not after
            regular_file(path, what)
    from novacpt_dev.demo.run import run_demo  # moto and the CDK load only for the demo

    pages: list[Path] = []

    def report(s3: Any, archive_bucket: str, run_id: str) -> None:
        from novacpt_cli.deployed import owned_by
        from novacpt_cli.report import fetch_run, render_report
        from novacpt_dev.demo.run import ACCOUNT

        assert out is not None
        with tempfile.TemporaryDirectory(prefix="cpt-demo-report-") as folder:
            data_, metrics = fetch_run(owned_by(s3, ACCOUNT), archive_bucket, run_id, Path(folder))
            pages.append(render_report(data_, metrics, out))

    started = time.monotonic()
    typer.echo("cpt demo: synthesising the stacks and starting an emulated AWS (moto) on this machine...")

    def show(state: str) -> None:
        typer.echo(f"  {time.monotonic() - started:6.1f}s  {state}")

    outcome = run_demo(
        data=data,
        validation=validation,
        recipe=recipe,
        fail_job=fail_job,
        on_state=show,
        stuck_job="image-pull" if stuck_job else None,
        on_archived=report if out is not None else None,
        runs=runs,
    )
    result, record = outcome.result, outcome.run_record
    ok = result.status == "SUCCEEDED" and all(other.status == "SUCCEEDED" for other in outcome.others)
    for other in outcome.others:  # the runs that waited in line: their outcome (the first run's in full below)
        done = other.status == "SUCCEEDED"
        line = f"run {other.arn.rsplit(':', 1)[-1]}: {other.status}"
        typer.secho(line + ("" if done else f" ({other.error})"), fg="green" if done else "red")
    typer.secho(
        f"\nrun {result.arn.rsplit(':', 1)[-1]}: {result.status}",
        fg="green" if result.status == "SUCCEEDED" else "red",
        bold=True,
    )
    output: dict[str, Any] = result.output or {}
    recipe_summary = output.get("recipe") or (record or {}).get("recipe") or {}
    if record and record.get("job_name"):
        typer.echo(f"job: {record['job_name']}")
    estimate = output.get("estimate") or (record or {}).get("estimate")
    if estimate:
        steps = f"{estimate['steps']} steps, " if "steps" in estimate else ""
        typer.echo(
            f"estimate: {steps}{estimate['hours']} h on {estimate['replicas']} x {estimate['instance_type']}, "
            f"{estimate['instance_hours']} instance-hours"
        )
        for warning in estimate.get("warnings") or []:
            typer.secho(f"  plan warning: {warning['code']}: {warning['message']}", fg="yellow")
    if not ok:
        typer.secho(f"reason: {result.error}", fg="red")
        typer.echo(_cause(result.cause))
    if record:
        archive = output.get("archive") or {}
        typer.echo(f"archive: {archive.get('run_record') or 'runs/' + str(record.get('run_id')) + '/run.json'}")
        typer.echo("run.json:")
        typer.echo(json.dumps(record, indent=2, default=str))
    elif recipe_summary:
        typer.echo(f"recipe: {recipe_summary.get('source_uri', '')}")
    for page in pages:
        typer.echo(f"report: {page} (open it in a browser)")
    typer.echo(f"({time.monotonic() - started:.1f} s; nothing left running)")
    raise typer.Exit(EXIT_VALID if ok else EXIT_INVALID)
