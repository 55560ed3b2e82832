"""ArchiveOutputs: copy the job's outputs to the archive, verified, and write the run record `run.json`."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from novacpt.pipeline.drop import run_prefix
from novacpt.pipeline.errors import OutputsMissing
from novacpt.pipeline.s3access import S3Access
from novacpt.pipeline.settings import Deployment
from novacpt.s3uri import s3_uri

MANIFEST = "manifest.json"


def archive_step(
    s3: S3Access, deployment: Deployment, state: dict[str, Any], *, succeeded: bool, execution_arn: str
) -> dict[str, Any]:
    """Archive what exists of a run; on success the manifest must be there (OutputsMissing otherwise)."""
    recipe = state.get("recipe") or {}
    run_id = str(recipe.get("run_id") or state.get("run_id") or execution_arn.rsplit(":", 1)[-1])
    archive_root = s3_uri(deployment.archive_bucket, f"{run_prefix(run_id)}outputs/")
    copied: list[dict[str, Any]] = []
    checkpoint = None
    job = recipe.get("job_name")
    if job and recipe.get("output_s3_path"):
        source_root = f"{recipe['output_s3_path']}/{job}/"
        for obj in s3.list(source_root):
            relative = obj.uri[len(source_root) :]
            copy = s3.copy_verified(obj, archive_root + relative)
            copied.append({"source": obj.uri, "archived": copy.uri, "bytes": obj.size})
        manifest = next((c for c in copied if c["source"].endswith("/" + MANIFEST)), None)
        if manifest is not None:
            checkpoint = _checkpoint(s3, manifest["archived"])
        elif succeeded:
            raise OutputsMissing(
                f"the job succeeded but {source_root}{MANIFEST} is missing: check the job's CloudWatch logs"
            )
    record = {
        "status": "SUCCEEDED" if succeeded else "FAILED",
        "run_id": run_id,
        "execution_arn": execution_arn,
        "job_name": job,
        "recipe": {"source": recipe.get("source_uri"), "as_run": recipe.get("resolved_uri")},
        "datasets": state.get("datasets", []),
        "estimate": state.get("estimate"),
        "timings": {
            "submitted_at": (state.get("job") or {}).get("submitted_at"),
            "archived_at": datetime.now(UTC).isoformat(),
            "elapsed_seconds": (state.get("poll") or {}).get("elapsed_seconds"),
        },
        "outputs": copied,
        "checkpoint": checkpoint,
        "error": state.get("error"),
    }
    record_uri = s3_uri(deployment.archive_bucket, f"{run_prefix(run_id)}run.json")
    s3.put_json(record_uri, record)
    return {"run_record": record_uri, "outputs": archive_root, "copied": len(copied), "checkpoint": checkpoint}


def _checkpoint(s3: S3Access, manifest_uri: str) -> str | None:
    try:
        manifest = json.loads(s3.read(manifest_uri, max_bytes=1 << 20))
    except ValueError:
        return None
    value = manifest.get("checkpoint_s3_bucket") if isinstance(manifest, dict) else None
    return str(value) if value else None
