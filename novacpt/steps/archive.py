"""ArchiveOutputs: copy the job's outputs to the archive, verified, and write `run.json` and `report.json`.

Everything under `<output_s3_path>/<job>/` (the manifest and the TensorBoard logs) is copied to
`runs/<run>/outputs/`, each copy checked against its source (size and SHA-256). Sources are only
read: nothing is changed or deleted. `run.json` holds what a later run needs to continue from the
checkpoint (`next_run`) and what this run was: the recipe as run, datasets (version ids, ETags,
reports), the estimate beside the actual hours, timings, outputs and the error if any. `report.json`
beside it is the run report's data (novacpt.steps.report), which `cpt report` renders.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import yaml

from novacpt.contract import ArchivedOutput, ArchiveState, RecipeAsRun, RunRecord, RunState
from novacpt.drop import RUNS_PREFIX, run_prefix
from novacpt.kernel.errors import OutputsMissing, TransientError
from novacpt.kernel.s3access import ObjectInfo, S3Access
from novacpt.kernel.s3uri import s3_uri
from novacpt.kernel.settings import Deployment
from novacpt.recipe import MAX_BYTES
from novacpt.steps.report import write_run_report
from novacpt.steps.versions import dataset_changes

MANIFEST = "manifest.json"
CHECKPOINT_KEY = "checkpoint_s3_bucket"
CHECKPOINTS_FOLDER = "_checkpoints"  # runs/_checkpoints/<sha256 of the path>.json: checkpoints this deployment made
COPY_ATTEMPTS = 3
COPY_WORKERS = 8  # below botocore's default pool of 10 connections
_DATASET_KEYS = {"role", "uri", "version_id", "etag", "bytes", "records", "quality", "report_uri", "report_version_id"}


def archive_step(
    s3: S3Access,
    deployment: Deployment,
    state: RunState,
    *,
    succeeded: bool,
    execution_arn: str,
    sleep: Callable[[float], None] = time.sleep,
) -> ArchiveState:
    """Archive what exists of a run; on success the manifest must be there (OutputsMissing otherwise)."""
    recipe = state.recipe
    run_id = recipe.run_id if recipe else execution_arn.rsplit(":", 1)[-1]
    archive_root = s3_uri(deployment.archive_bucket, f"{run_prefix(run_id)}outputs/")
    copied: list[ArchivedOutput] = []
    checkpoint = None
    if recipe is not None:
        source_root = f"{recipe.output_s3_path}/{recipe.job_name}/"
        checkpoint = _checkpoint(s3, source_root + MANIFEST, required=succeeded)

        def archive(obj: ObjectInfo) -> ArchivedOutput:
            copy = _copy_with_retry(s3, obj, archive_root + obj.uri[len(source_root) :], sleep)
            return ArchivedOutput(
                source=obj.uri,
                source_etag=obj.etag,
                archived=copy.uri,
                archived_version_id=copy.version_id,
                bytes=obj.size,
            )

        with ThreadPoolExecutor(COPY_WORKERS) as pool:
            copied = list(pool.map(archive, s3.list(source_root)))
    record = RunRecord(
        status="SUCCEEDED" if succeeded else "FAILED",
        run_id=run_id,
        execution_arn=execution_arn,
        job_name=recipe.job_name if recipe else None,
        recipe={
            "source": recipe.source_uri if recipe else None,
            "source_version_id": recipe.source_version_id if recipe else None,
            "as_run": recipe.resolved_uri if recipe else None,
        },
        recipe_as_run=_recipe_as_run(s3, recipe.resolved_uri) if recipe else None,
        datasets=_datasets(s3, state),
        estimate=state.estimate,
        actual=_actual(state),
        timings={
            "submitted_at": state.job.submitted_at if state.job else None,
            "elapsed_seconds": state.poll.elapsed_seconds if state.poll else None,
            "archived_at": datetime.now(UTC).isoformat(),
        },
        outputs=copied,
        checkpoint=checkpoint,
        next_run={"run.model_name_or_path": checkpoint} if checkpoint else None,
        error=state.error,
    )
    record_uri = s3_uri(deployment.archive_bucket, f"{run_prefix(run_id)}run.json")
    s3.put_json(record_uri, record.model_dump(mode="json"))
    if checkpoint:  # later runs may start from it (ValidateRecipe looks it up here)
        s3.put_json(
            checkpoint_record_uri(deployment.archive_bucket, checkpoint), {"checkpoint": checkpoint, "run": run_id}
        )
    report_uri = write_run_report(s3, deployment.archive_bucket, record, state.datasets or [])
    return ArchiveState(
        run_record=record_uri, report=report_uri, outputs=archive_root, copied=len(copied), checkpoint=checkpoint
    )


def checkpoint_record_uri(archive_bucket: str, checkpoint: str) -> str:
    """Where the archive records that this deployment produced `checkpoint`."""
    digest = hashlib.sha256(checkpoint.rstrip("/").encode()).hexdigest()
    return s3_uri(archive_bucket, f"{RUNS_PREFIX}{CHECKPOINTS_FOLDER}/{digest}.json")


def _datasets(s3: S3Access, state: RunState) -> list[dict[str, Any]]:
    """The datasets as validated (the versions that trained, when a job ran: SubmitJob checked them), and
    whether one was replaced while the job ran (None when no job started)."""
    records = []
    for dataset in state.datasets or []:
        record = dataset.model_dump(include=_DATASET_KEYS)
        record["changed_during_run"] = bool(dataset_changes(s3, [dataset.model_dump()])) if state.job else None
        records.append(record)
    return records


def _checkpoint(s3: S3Access, manifest_uri: str, *, required: bool) -> str | None:
    """The manifest's checkpoint path, or None; when `required`, a missing manifest is OutputsMissing."""
    if s3.head(manifest_uri) is None:
        if required:
            raise OutputsMissing(f"the job succeeded but {manifest_uri} is missing: check the job's CloudWatch logs")
        return None
    try:
        manifest = json.loads(s3.read(manifest_uri, max_bytes=1 << 20))
    except ValueError:
        return None
    value = manifest.get(CHECKPOINT_KEY) if isinstance(manifest, dict) else None
    return value if isinstance(value, str) and value else None


def _copy_with_retry(s3: S3Access, source: ObjectInfo, target_uri: str, sleep: Callable[[float], None]) -> ObjectInfo:
    """Copy and verify, up to COPY_ATTEMPTS times on transient failures (then the state machine retries)."""
    attempt = 1
    while True:
        try:
            return s3.copy_verified(source, target_uri)
        except TransientError:
            if attempt == COPY_ATTEMPTS:
                raise
            sleep(0.5 * 2**attempt)
            attempt += 1


def _recipe_as_run(s3: S3Access, uri: str) -> RecipeAsRun | None:
    """The archived recipe the job ran (content and identity), or None when there is none."""
    info = s3.head(uri)
    if info is None:
        return None
    content = yaml.safe_load(s3.read(info.uri, max_bytes=MAX_BYTES))
    return RecipeAsRun(uri=info.uri, etag=info.etag, version_id=info.version_id, content=content)


def _actual(state: RunState) -> dict[str, float | None]:
    """Hours the job ran (submit to its last poll) and the instance-hours that makes, beside the estimate."""
    seconds = state.poll.elapsed_seconds if state.poll else None
    replicas = state.recipe.replicas if state.recipe else state.estimate.replicas if state.estimate else None
    hours = round(seconds / 3600, 3) if seconds is not None else None
    instance_hours = round(hours * replicas, 2) if hours is not None and replicas else None
    return {"hours": hours, "instance_hours": instance_hours}
