"""ValidateDatasets: stream one dataset from S3 through the validator; the full report goes to the archive."""

from __future__ import annotations

from typing import Any

from novacpt.dataset import DatasetOptions, DatasetReport, validate_stream
from novacpt.pipeline.drop import run_prefix
from novacpt.pipeline.errors import DatasetInvalid
from novacpt.pipeline.s3access import S3Access
from novacpt.pipeline.settings import Deployment
from novacpt.s3uri import s3_uri

SHOWN_ERRORS = 10


def validate_dataset_step(
    s3: S3Access, deployment: Deployment, *, run_id: str, role: str, uri: str, limits: dict[str, int]
) -> dict[str, Any]:
    """Validate one dataset; raise DatasetInvalid with its first bad lines, else return a small summary."""
    body, info = s3.open(uri)
    options = DatasetOptions(
        max_length=limits.get("max_length"),
        global_batch_size=limits.get("global_batch_size"),
        max_epochs=limits.get("max_epochs"),
    )
    with body:
        report = validate_stream(body, uri.rsplit("/", 1)[-1], options)
    report_uri = s3_uri(deployment.archive_bucket, f"{run_prefix(run_id)}reports/{role}.json")
    s3.put_json(report_uri, {"dataset": uri, "version_id": info.version_id, **report.to_json_dict()})
    if not report.valid:
        raise DatasetInvalid(describe_invalid(uri, report, report_uri))
    return {
        "role": role,
        "uri": uri,
        "version_id": info.version_id,
        "etag": info.etag,
        "bytes": info.size,
        "records": report.stats["records"],
        "estimated_tokens": report.stats["estimated_tokens"],
        "warnings": [w.to_dict() for w in report.warnings],
        "report_uri": report_uri,
    }


def describe_invalid(uri: str, report: DatasetReport, report_uri: str) -> str:
    """The first bad lines and the counts by code, compiler style, plus where the full report is."""
    total = sum(report.error_counts.values())
    counts = ", ".join(f"{code}: {n}" for code, n in sorted(report.error_counts.items()))
    lines = [f"{uri}: {total} error(s) ({counts})"]
    for error in report.errors[:SHOWN_ERRORS]:
        where = f"{uri}:{error.line}" if error.line is not None else uri
        lines.append(f"  {where}: {error.code}: {error.message}")
    if total > SHOWN_ERRORS:
        lines.append(f"  ... full report: {report_uri}")
    else:
        lines.append(f"  full report: {report_uri}")
    return "\n".join(lines)
