"""ArchiveOutputs: copy the job's outputs to the archive, verified, and write the run record `run.json`.

Everything under `<output_s3_path>/<job>/` (the manifest and the TensorBoard logs) is copied to
`runs/<run>/outputs/`, each copy checked against its source (size and SHA-256). Sources are only
read: nothing is changed or deleted. `run.json` holds what a later run needs to continue from the
checkpoint (`next_run`) and what this run was: the recipe as run, datasets (version ids, ETags,
reports), the estimate beside the actual hours, timings, outputs and the error if any.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import yaml

from novacpt.drop import run_prefix
from novacpt.kernel.errors import OutputsMissing, TransientError
from novacpt.kernel.s3access import ObjectInfo, S3Access
from novacpt.kernel.s3uri import s3_uri
from novacpt.kernel.settings import Deployment
from novacpt.recipe import MAX_BYTES

MANIFEST = "manifest.json"
CHECKPOINT_KEY = "checkpoint_s3_bucket"
COPY_ATTEMPTS = 3
COPY_WORKERS = 8  # below botocore's default pool of 10 connections
_DATASET_KEYS = ("role", "uri", "version_id", "etag", "bytes", "records", "report_uri")


def archive_step(
    s3: S3Access,
    deployment: Deployment,
    state: dict[str, Any],
    *,
    succeeded: bool,
    execution_arn: str,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Archive what exists of a run; on success the manifest must be there (OutputsMissing otherwise)."""
    recipe = state.get("recipe") or {}
    run_id = str(recipe.get("run_id") or state.get("run_id") or execution_arn.rsplit(":", 1)[-1])
    archive_root = s3_uri(deployment.archive_bucket, f"{run_prefix(run_id)}outputs/")
    job = recipe.get("job_name")
    copied: list[dict[str, Any]] = []
    checkpoint = None
    if job and recipe.get("output_s3_path"):
        source_root = f"{recipe['output_s3_path']}/{job}/"
        checkpoint = _checkpoint(s3, source_root + MANIFEST, required=succeeded)

        def archive(obj: ObjectInfo) -> dict[str, Any]:
            copy = _copy_with_retry(s3, obj, archive_root + obj.uri[len(source_root) :], sleep)
            return {
                "source": obj.uri,
                "source_etag": obj.etag,
                "archived": copy.uri,
                "archived_version_id": copy.version_id,
                "bytes": obj.size,
            }

        with ThreadPoolExecutor(COPY_WORKERS) as pool:
            copied = list(pool.map(archive, s3.list(source_root)))
    record = {
        "status": "SUCCEEDED" if succeeded else "FAILED",
        "run_id": run_id,
        "execution_arn": execution_arn,
        "job_name": job,
        "recipe": {"source": recipe.get("source_uri"), "as_run": recipe.get("resolved_uri")},
        "recipe_as_run": _recipe_as_run(s3, recipe.get("resolved_uri")),
        "datasets": [{k: d.get(k) for k in _DATASET_KEYS} for d in state.get("datasets") or []],
        "estimate": state.get("estimate"),
        "actual": _actual(state),
        "timings": {
            "submitted_at": (state.get("job") or {}).get("submitted_at"),
            "elapsed_seconds": (state.get("poll") or {}).get("elapsed_seconds"),
            "archived_at": datetime.now(UTC).isoformat(),
        },
        "outputs": copied,
        "checkpoint": checkpoint,
        "next_run": {"run.model_name_or_path": checkpoint} if checkpoint else None,
        "error": state.get("error"),
    }
    record_uri = s3_uri(deployment.archive_bucket, f"{run_prefix(run_id)}run.json")
    s3.put_json(record_uri, record)
    return {"run_record": record_uri, "outputs": archive_root, "copied": len(copied), "checkpoint": checkpoint}


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


def _recipe_as_run(s3: S3Access, uri: str | None) -> dict[str, Any] | None:
    """The archived recipe the job ran (content and identity), or None when there is none."""
    info = s3.head(uri) if uri else None
    if info is None:
        return None
    content = yaml.safe_load(s3.read(info.uri, max_bytes=MAX_BYTES))
    return {"uri": info.uri, "etag": info.etag, "version_id": info.version_id, "content": content}


def _actual(state: dict[str, Any]) -> dict[str, Any]:
    """Hours the job ran (submit to its last poll) and the instance-hours that makes, beside the estimate."""
    seconds = (state.get("poll") or {}).get("elapsed_seconds")
    replicas = (state.get("recipe") or {}).get("replicas") or (state.get("estimate") or {}).get("replicas")
    hours = round(seconds / 3600, 3) if isinstance(seconds, int | float) else None
    instance_hours = round(hours * int(replicas), 2) if hours is not None and replicas else None
    return {"hours": hours, "instance_hours": instance_hours}
