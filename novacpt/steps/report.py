"""The run report beside `run.json`: `report.json`, from the run record and its datasets' full reports.

The datasets' reports are read as MergeReports wrote them (the version it recorded), in this
account's buckets only. `novacpt.run_report.report_data` makes the report; `cpt report` renders it.
"""

from __future__ import annotations

import json
from typing import Any

from novacpt.contract import DatasetSummary, RunRecord
from novacpt.drop import run_prefix
from novacpt.kernel.errors import PipelineError, TransientError
from novacpt.kernel.s3access import S3Access
from novacpt.kernel.s3uri import s3_uri
from novacpt.run_report import REPORT_FILE, report_data

MAX_DATASET_REPORT = 64 << 20  # a dataset report holds counts and the first errors: far below this


def dataset_reports(s3: S3Access, datasets: list[DatasetSummary]) -> dict[str, dict[str, Any]]:
    """Each dataset's full report by role; one that is gone or unreadable is left out (the record still counts)."""
    reports: dict[str, dict[str, Any]] = {}
    for dataset in datasets:
        try:
            body, _ = s3.open(dataset.report_uri, dataset.report_version_id)
            data = body.read(MAX_DATASET_REPORT + 1)
        except TransientError:
            raise  # retried by the state machine
        except PipelineError:
            continue
        try:
            report = json.loads(data) if len(data) <= MAX_DATASET_REPORT else None
        except ValueError:
            report = None
        if isinstance(report, dict):
            reports[dataset.role] = report
    return reports


def write_run_report(s3: S3Access, archive_bucket: str, record: RunRecord, datasets: list[DatasetSummary]) -> str:
    """Write `runs/<run>/report.json` and return its URI."""
    uri = s3_uri(archive_bucket, f"{run_prefix(record.run_id)}{REPORT_FILE}")
    s3.put_json(uri, report_data(record.model_dump(mode="json"), dataset_reports(s3, datasets)))
    return uri
