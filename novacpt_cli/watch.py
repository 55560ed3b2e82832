"""Where a run stands: its state in the pipeline, and step, loss, tokens/s and ETA from its TensorBoard files.

The run's execution history gives the state and the run's recipe summary (job name, output path,
batch size, epochs, records); the job's event files under `<output_s3_path>/<job>/` (or, once
archived, `runs/<run>/outputs/` in the archive bucket) give the training curves.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

from novacpt_cli.metrics import TrainingMetrics, summary, training_metrics

EVENT_FILE_MARK = "events.out.tfevents."


def execution_state(sfn: Any, arn: str) -> dict[str, Any]:
    """Status, the state last entered, and the latest state document of the execution."""
    description = sfn.describe_execution(executionArn=arn)
    current, document = None, None
    pages = sfn.get_paginator("get_execution_history").paginate(executionArn=arn, reverseOrder=True)
    for page in pages:
        for event in page["events"]:
            if current is None and (entered := event.get("stateEnteredEventDetails")):
                current = entered.get("name")
            if document is None and (exited := event.get("stateExitedEventDetails")):
                document = _json_object(exited.get("output"))
            if current is not None and document is not None:
                break
        if current is not None and document is not None:
            break
    if description.get("output"):
        document = _json_object(description["output"]) or document
    return {
        "status": description["status"],
        "state": current,
        "started": str(description.get("startDate") or ""),
        "stopped": str(description.get("stopDate") or "") or None,
        "document": document or {},
    }


def _json_object(text: str | None) -> dict[str, Any] | None:
    try:
        value = json.loads(text or "")
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def sync_event_files(s3: Any, bucket: str, prefix: str, folder: Path, seen: dict[str, str]) -> int:
    """Download the event files under s3://bucket/prefix that are new or changed since `seen`; return how many."""
    fetched = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            key = obj["Key"]
            if EVENT_FILE_MARK not in key.rsplit("/", 1)[-1] or seen.get(key) == obj.get("ETag"):
                continue
            target = folder / key[len(prefix) :].lstrip("/")
            if folder.resolve() not in target.resolve().parents:  # a key with ".." stays out
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(bucket, key, str(target))
            seen[key] = obj.get("ETag", "")
            fetched += 1
    return fetched


def _limits(recipe: dict[str, Any]) -> dict[str, Any]:
    """The recipe summary's batch size, max_length and epochs (nested under `limits`, or flat)."""
    limits = recipe.get("limits")
    return limits if isinstance(limits, dict) else recipe


def total_steps(document: dict[str, Any]) -> int | None:
    """The run's optimizer steps: the estimate's, else records x epochs / global batch size."""
    estimate = document.get("estimate") or {}
    if isinstance(estimate.get("steps"), int) and estimate["steps"] > 0:
        return int(estimate["steps"])
    limits = _limits(document.get("recipe") or {})
    records, batch, epochs = estimate.get("samples"), limits.get("global_batch_size"), limits.get("max_epochs")
    if isinstance(records, int) and isinstance(batch, int) and isinstance(epochs, int) and records and batch > 0:
        return max(1, math.ceil(records * epochs / batch))
    return None


def run_snapshot(state: dict[str, Any], metrics: TrainingMetrics) -> dict[str, Any]:
    """The one JSON object of `cpt watch --json` / `cpt status RUN --json`."""
    document = state.get("document") or {}
    recipe = document.get("recipe") or {}
    estimate = document.get("estimate") or {}
    return {
        "run_id": recipe.get("run_id"),
        "status": state.get("status"),
        "state": state.get("state"),
        "started": state.get("started"),
        "stopped": state.get("stopped"),
        "job_name": recipe.get("job_name"),
        "estimate_hours": estimate.get("hours"),
        **summary(metrics, total_steps(document)),
    }


def describe(snapshot: dict[str, Any]) -> str:
    """One human line for a snapshot."""
    parts = [f"{snapshot['status']}", f"state {snapshot['state'] or '-'}"]
    if snapshot.get("step") is not None:
        total = snapshot.get("total_steps")
        parts.append(f"step {snapshot['step']:,}" + (f"/{total:,}" if total else ""))
    if snapshot.get("loss") is not None:
        parts.append(f"loss {snapshot['loss']:.4f}")
    if snapshot.get("validation_loss") is not None:
        parts.append(f"val {snapshot['validation_loss']:.4f}")
    if snapshot.get("tokens_per_second") is not None:
        parts.append(f"{snapshot['tokens_per_second']:,.0f} tokens/s")
    if snapshot.get("eta_seconds") is not None:
        parts.append(f"ETA {_duration(snapshot['eta_seconds'])}")
    return ", ".join(parts)


def _duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m{int(seconds % 60):02d}s"


def metrics_for(document: dict[str, Any], folder: Path) -> TrainingMetrics:
    """The run's TensorBoard metrics from the event files in `folder`."""
    limits = _limits(document.get("recipe") or {})
    batch, length = limits.get("global_batch_size"), limits.get("max_length")
    per_step = batch * length if isinstance(batch, int) and isinstance(length, int) else None
    return training_metrics(folder, tokens_per_step=per_step)


def event_source(document: dict[str, Any], archive_bucket: str, run_id: str, finished: bool) -> tuple[str, str] | None:
    """(bucket, prefix) of the run's event files: the archive once it ended, else the job's output path."""
    if finished:
        return archive_bucket, f"runs/{run_id}/outputs/"
    recipe = document.get("recipe") or {}
    output, job = recipe.get("output_s3_path"), recipe.get("job_name")
    if not (isinstance(output, str) and output.startswith("s3://") and job):
        return None
    bucket, _, prefix = output[len("s3://") :].partition("/")
    return bucket, f"{prefix.strip('/')}/{job}/".lstrip("/")


def poll_seconds(interval: float) -> float:
    """Seconds between two refreshes (at least 5: S3 lists are not free)."""
    return max(5.0, interval)


def sleep(seconds: float) -> None:
    """Wait between refreshes (a seam for tests)."""
    time.sleep(seconds)
