"""report.json beside run.json: the run record with its datasets' reports, read as MergeReports wrote them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from novacpt.contract import RunRecord
from novacpt.kernel.s3access import S3Access
from novacpt.run_report import report_data
from novacpt.steps.report import dataset_reports, write_run_report
from tests.examples import dataset_summary, estimate_result

REGION = "us-east-1"
ACCOUNT = "123456789012"
ARCHIVE = "archive-bkt"
REPORT_KEY = "runs/run-a/reports/train.json"


class Calls:
    """The S3 client, with the arguments of every GetObject kept."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.gets: list[dict[str, Any]] = []

    def get_object(self, **kwargs: Any) -> Any:
        self.gets.append(kwargs)
        return self.client.get_object(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name=REGION)
        client.create_bucket(Bucket=ARCHIVE)
        client.put_bucket_versioning(Bucket=ARCHIVE, VersioningConfiguration={"Status": "Enabled"})
        yield client


def _report(records: int) -> dict[str, Any]:
    return {
        "stats": {"records": records, "estimated_tokens": records * 40, "exact_duplicates": {"count": 2, "rate": 0.1}},
        "warnings": [{"code": "duplicate_rate", "message": f"2 of {records} records repeat"}],
    }


def _record(**changes: Any) -> RunRecord:
    values: dict[str, Any] = {
        "status": "SUCCEEDED",
        "run_id": "run-a",
        "execution_arn": f"arn:aws:states:{REGION}:{ACCOUNT}:execution:NovaCpt:run-a",
        "job_name": "nova-lite-cpt-1a2b3c4d",
        "recipe": {"source": None, "as_run": None},
        "recipe_as_run": None,
        "datasets": [{"role": "train", "uri": "s3://data-bkt/jobs/a/train.jsonl", "records": 20}],
        "estimate": estimate_result(),
        "actual": {"hours": 2.0, "instance_hours": 32.0},
        "timings": {},
        "outputs": [],
        "checkpoint": None,
        "next_run": None,
        "error": None,
    }
    return RunRecord(**{**values, **changes})


def test_the_report_is_written_beside_run_json_from_the_version_merge_reports_wrote(s3: Any) -> None:
    written = s3.put_object(Bucket=ARCHIVE, Key=REPORT_KEY, Body=json.dumps(_report(20)).encode())
    s3.put_object(Bucket=ARCHIVE, Key=REPORT_KEY, Body=json.dumps(_report(999)).encode())  # a later overwrite
    calls = Calls(s3)
    dataset = dataset_summary(report_uri=f"s3://{ARCHIVE}/{REPORT_KEY}", report_version_id=written["VersionId"])
    record = _record()
    uri = write_run_report(S3Access(calls, ACCOUNT), ARCHIVE, record, [dataset])
    assert uri == f"s3://{ARCHIVE}/runs/run-a/report.json"
    stored = json.loads(s3.get_object(Bucket=ARCHIVE, Key="runs/run-a/report.json")["Body"].read())
    assert stored == report_data(record.model_dump(mode="json"), {"train": _report(20)})
    (train,) = stored["datasets"]
    assert (train["records"], train["estimated_tokens"]) == (20, 800)
    assert train["warnings"] == ["2 of 20 records repeat"]
    assert stored["actual"]["instance_hours"] == 32.0
    assert calls.gets == [
        {"Bucket": ARCHIVE, "Key": REPORT_KEY, "VersionId": written["VersionId"], "ExpectedBucketOwner": ACCOUNT}
    ]


def test_a_missing_or_unreadable_dataset_report_is_left_out(s3: Any) -> None:
    s3.put_object(Bucket=ARCHIVE, Key="runs/run-a/reports/validation.json", Body=b"not json")
    datasets = [
        dataset_summary(report_uri=f"s3://{ARCHIVE}/{REPORT_KEY}"),
        dataset_summary(role="validation", report_uri=f"s3://{ARCHIVE}/runs/run-a/reports/validation.json"),
    ]
    assert dataset_reports(S3Access(s3, ACCOUNT), datasets) == {}
    write_run_report(S3Access(s3, ACCOUNT), ARCHIVE, _record(), datasets)
    stored = json.loads(s3.get_object(Bucket=ARCHIVE, Key="runs/run-a/report.json")["Body"].read())
    assert stored["datasets"][0]["records"] == 20  # from the run record
