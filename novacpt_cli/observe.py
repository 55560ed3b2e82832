"""`cpt watch RUN`, `cpt status RUN` and `cpt report RUN`: one run, while it trains and after it ended."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from novacpt.naming import execution_arn
from novacpt_cli.deployed import Deployed
from novacpt_cli.errors import EXIT_INVALID, EXIT_VALID, CliError, emit_json
from novacpt_cli.watch import (
    describe,
    event_source,
    execution_state,
    metrics_for,
    poll_seconds,
    run_snapshot,
    sleep,
    sync_event_files,
)

FINISHED_OK = "SUCCEEDED"


class RunWatcher:
    """Refreshes one run's snapshot: its execution state, then any new event files, then the metrics."""

    def __init__(self, deployed: Deployed, run: str, folder: Path) -> None:
        self.sfn, self.s3 = deployed.client("stepfunctions"), deployed.client("s3")
        self.arn = execution_arn(deployed.state_machine_arn, run)
        self.run, self.archive_bucket, self.folder = run, deployed.archive_bucket, folder
        self.seen: dict[str, str] = {}

    def snapshot(self) -> dict[str, Any]:
        """Where the run stands now (CliError when no run of that name exists)."""
        try:
            state = execution_state(self.sfn, self.arn)
        except self.sfn.exceptions.ExecutionDoesNotExist:
            raise CliError(
                f"no run named {self.run!r} in this deployment: `cpt status` lists the recent ones", kind="usage"
            ) from None
        finished = state["status"] != "RUNNING"
        source = event_source(state["document"], self.archive_bucket, self.run, finished)
        local = self.folder / ("archived" if finished else "live")
        if source is not None:
            local.mkdir(parents=True, exist_ok=True)
            sync_event_files(self.s3, source[0], source[1], local, self.seen)
        return run_snapshot(state, metrics_for(state["document"], local)) | {"run_id": self.run}


def _exit_code(snapshot: dict[str, Any]) -> int:
    return EXIT_VALID if snapshot["status"] in ("RUNNING", FINISHED_OK) else EXIT_INVALID


def show_run(deployed: Deployed, run: str, *, as_json: bool) -> int:
    """Print one snapshot of `run` (text or one JSON object); 0 running or succeeded, 1 failed."""
    with tempfile.TemporaryDirectory(prefix="cpt-run-") as folder:
        snapshot = RunWatcher(deployed, run, Path(folder)).snapshot()
    if as_json:
        emit_json(snapshot)
    else:
        typer.echo(f"{run}: {describe(snapshot)}")
    return _exit_code(snapshot)


def watch_run(deployed: Deployed, run: str, *, interval: float, as_json: bool) -> int:
    """Follow `run` until it ends: a progress display on a terminal, one line per refresh otherwise."""
    if as_json:
        return show_run(deployed, run, as_json=True)
    with tempfile.TemporaryDirectory(prefix="cpt-watch-") as folder:
        watcher = RunWatcher(deployed, run, Path(folder))
        snapshot = watcher.snapshot()
        if not sys.stderr.isatty():
            while True:
                typer.echo(f"{run}: {describe(snapshot)}")
                if snapshot["status"] != "RUNNING":
                    return _exit_code(snapshot)
                sleep(poll_seconds(interval))
                snapshot = watcher.snapshot()
        columns = (
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"),
        )
        with Progress(*columns, console=Console(stderr=True), transient=False) as progress:
            task = progress.add_task(run, total=None, info="")
            while True:
                progress.update(
                    task,
                    total=snapshot.get("total_steps"),
                    completed=snapshot.get("step") or 0,
                    info=describe(snapshot),
                )
                if snapshot["status"] != "RUNNING":
                    break
                sleep(poll_seconds(interval))
                snapshot = watcher.snapshot()
    return _exit_code(snapshot)


def write_report(deployed: Deployed, run: str, out: Path) -> Path:
    """Render the archived run's report into `out`; return the page."""
    from novacpt_cli.report import fetch_run, render_report

    with tempfile.TemporaryDirectory(prefix="cpt-report-") as folder:
        data, metrics = fetch_run(deployed.client("s3"), deployed.archive_bucket, run, Path(folder))
        return render_report(data, metrics, out)
