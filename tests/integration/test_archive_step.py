"""ArchiveOutputs with moto S3: verified copies, run.json, missing manifest, many log files, failing copies."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import yaml
from botocore.exceptions import ClientError
from moto import mock_aws

from novacpt.contract import RunState
from novacpt.kernel.errors import OutputsMissing, TransientError
from novacpt.kernel.s3access import S3Access
from novacpt.kernel.settings import Deployment
from novacpt.run_report import report_data
from novacpt.steps.archive import COPY_ATTEMPTS, archive_step
from tests.examples import dataset_summary, estimate_result, recipe_summary, run_state

REGION = "us-east-1"
ACCOUNT = "123456789012"
ARN = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:NovaCpt:run-a"
JOB = "nova-lite-cpt-1a2b3c4d"
CHECKPOINT = f"s3://customer-escrow-{ACCOUNT}-smtj/{JOB}/checkpoint"
DEPLOYMENT = Deployment(
    account_id=ACCOUNT, region=REGION, data_bucket="data-bkt", output_bucket="out-bkt", archive_bucket="archive-bkt"
)


class Recording:
    """The S3 client, with every operation name recorded and copy_object replaceable."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.operations: list[str] = []
        self.copy_object = self._record("copy_object", client.copy_object)

    def _record(self, name: str, method: Any) -> Any:
        def call(**kwargs: Any) -> Any:
            self.operations.append(name)
            return method(**kwargs)

        return call

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.client, name)
        return self._record(name, attribute) if callable(attribute) and name != "get_paginator" else attribute


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name=REGION)
        for bucket in ("data-bkt", "out-bkt", "archive-bkt"):
            client.create_bucket(Bucket=bucket)
            client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        yield client


def state(**extra: Any) -> RunState:
    parts: dict[str, Any] = {
        "recipe": recipe_summary(job_name=JOB),
        "datasets": [dataset_summary()],
        "estimate": estimate_result(hours=0.012, instance_hours=0.192),
        "job": {"job_name": JOB, "submitted_at": "2026-11-28T00:00:00+00:00"},
        "poll": {"state": "SUCCEEDED", "attempt": 3, "elapsed_seconds": 7200.0},
        **extra,
    }
    return run_state(**parts)


def archive(*args: Any, **kwargs: Any) -> dict[str, Any]:
    """archive_step's result in its JSON form (what the state machine gets)."""
    return archive_step(*args, **kwargs).model_dump(mode="json")


def outputs(s3: Any, *, logs: int = 3, manifest: Any = None) -> None:
    s3.put_object(Bucket="archive-bkt", Key="runs/run-a/recipe.yaml", Body=b"run:\n  name: nova-lite-cpt\n")
    if manifest is not False:
        body = manifest if manifest is not None else {"checkpoint_s3_bucket": CHECKPOINT}
        s3.put_object(Bucket="out-bkt", Key=f"trial-a/{JOB}/manifest.json", Body=json.dumps(body).encode())
    for i in range(logs):
        key = f"trial-a/{JOB}/tensorboard/events.out.tfevents.{i:05d}"
        s3.put_object(Bucket="out-bkt", Key=key, Body=f"scalars {i}".encode())


def versions(s3: Any, bucket: str, prefix: str = "") -> dict[str, list[tuple[str, str]]]:
    found: dict[str, list[tuple[str, str]]] = {}
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        for v in page.get("Versions", []):
            found.setdefault(v["Key"], []).append((v["VersionId"], v["ETag"]))
        assert page.get("DeleteMarkers", []) == []
    return found


def body(s3: Any, bucket: str, key: str) -> bytes:
    return bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def test_success_copies_outputs_verified_and_writes_the_run_record(s3: Any) -> None:
    outputs(s3)
    before = versions(s3, "out-bkt")
    recording = Recording(s3)
    result = archive(S3Access(recording, ACCOUNT), DEPLOYMENT, state(), succeeded=True, execution_arn=ARN)
    assert result == {
        "run_record": "s3://archive-bkt/runs/run-a/run.json",
        "report": "s3://archive-bkt/runs/run-a/report.json",
        "outputs": "s3://archive-bkt/runs/run-a/outputs/",
        "copied": 4,
        "checkpoint": CHECKPOINT,
    }
    for key in ["manifest.json", *(f"tensorboard/events.out.tfevents.{i:05d}" for i in range(3))]:
        assert body(s3, "archive-bkt", f"runs/run-a/outputs/{key}") == body(s3, "out-bkt", f"trial-a/{JOB}/{key}")
    assert versions(s3, "out-bkt") == before  # sources neither changed nor deleted
    assert not [op for op in recording.operations if op.startswith("delete")]
    record = json.loads(body(s3, "archive-bkt", "runs/run-a/run.json"))
    assert record["status"] == "SUCCEEDED" and record["execution_arn"] == ARN and record["job_name"] == JOB
    assert record["checkpoint"] == CHECKPOINT
    assert record["next_run"] == {"run.model_name_or_path": CHECKPOINT}
    assert record["recipe"] == {
        "source": "s3://data-bkt/jobs/trial-a/recipe.yaml",
        "source_version_id": None,
        "as_run": "s3://archive-bkt/runs/run-a/recipe.yaml",
    }
    recipe_version = s3.head_object(Bucket="archive-bkt", Key="runs/run-a/recipe.yaml")
    assert record["recipe_as_run"] == {
        "uri": "s3://archive-bkt/runs/run-a/recipe.yaml",
        "etag": recipe_version["ETag"].strip('"'),
        "version_id": recipe_version["VersionId"],
        "content": {"run": {"name": "nova-lite-cpt"}},
    }
    (dataset,) = record["datasets"]
    assert dataset == {
        "role": "train",
        "uri": "s3://data-bkt/jobs/trial-a/train.jsonl",
        "version_id": "v1",
        "etag": "e1",
        "bytes": 10,
        "records": 300,
        "quality": None,  # MergeReports' corpus-quality headline (none in this state)
        "report_uri": "s3://archive-bkt/runs/run-a/reports/train.json",
        "report_version_id": None,
        "changed_during_run": True,  # the object's version now is not the recorded "v1"
    }
    assert record["estimate"] == state().estimate.model_dump(mode="json")
    assert record["actual"] == {"hours": 2.0, "instance_hours": 32.0}
    assert record["timings"]["submitted_at"] == "2026-11-28T00:00:00+00:00"
    assert record["timings"]["elapsed_seconds"] == 7200.0 and record["timings"]["archived_at"]
    manifest = next(o for o in record["outputs"] if o["source"].endswith("/manifest.json"))
    assert manifest["archived"] == "s3://archive-bkt/runs/run-a/outputs/manifest.json"
    assert manifest["archived_version_id"] and manifest["source_etag"] and manifest["bytes"] > 0


def test_success_without_manifest_fails_clearly_and_the_failure_path_keeps_what_exists(s3: Any) -> None:
    outputs(s3, manifest=False)
    with pytest.raises(OutputsMissing, match=rf"s3://out-bkt/trial-a/{JOB}/manifest.json is missing"):
        archive(S3Access(s3, ACCOUNT), DEPLOYMENT, state(), succeeded=True, execution_arn=ARN)
    error = {"Error": "OutputsMissing", "Cause": "manifest.json is missing"}
    result = archive(S3Access(s3, ACCOUNT), DEPLOYMENT, state(error=error), succeeded=False, execution_arn=ARN)
    assert result["copied"] == 3 and result["checkpoint"] is None
    record = json.loads(body(s3, "archive-bkt", "runs/run-a/run.json"))
    assert record["status"] == "FAILED" and record["error"] == error and record["next_run"] is None


@pytest.mark.parametrize("manifest", [{"other": 1}, {"checkpoint_s3_bucket": ""}, "not an object", ["s3://x"]])
def test_a_manifest_without_a_checkpoint_gives_no_next_run(s3: Any, manifest: Any) -> None:
    outputs(s3, manifest=manifest)
    result = archive(S3Access(s3, ACCOUNT), DEPLOYMENT, state(), succeeded=True, execution_arn=ARN)
    assert result["checkpoint"] is None and result["copied"] == 4
    record = json.loads(body(s3, "archive-bkt", "runs/run-a/run.json"))
    assert record["checkpoint"] is None and record["next_run"] is None


def test_a_run_that_never_reached_the_cluster_still_gets_a_record(s3: Any) -> None:
    early = run_state(input={"recipe_s3_uri": "s3://x/y.yaml"}, error={"Error": "RecipeInvalid", "Cause": "bad"})
    result = archive(S3Access(s3, ACCOUNT), DEPLOYMENT, early, succeeded=False, execution_arn=ARN)
    assert result["copied"] == 0
    record = json.loads(body(s3, "archive-bkt", "runs/run-a/run.json"))
    assert record["recipe"] == {"source": None, "source_version_id": None, "as_run": None}
    assert record["recipe_as_run"] is None
    assert record["estimate"] is None and record["actual"] == {"hours": None, "instance_hours": None}


@pytest.mark.slow
def test_more_than_a_thousand_log_files_are_all_archived(s3: Any) -> None:
    outputs(s3, logs=1001)
    result = archive(S3Access(s3, ACCOUNT), DEPLOYMENT, state(), succeeded=True, execution_arn=ARN)
    assert result["copied"] == 1002
    archived = versions(s3, "archive-bkt", "runs/run-a/outputs/")
    assert len(archived) == 1002 and "runs/run-a/outputs/tensorboard/events.out.tfevents.01000" in archived
    record = json.loads(body(s3, "archive-bkt", "runs/run-a/run.json"))
    assert len(record["outputs"]) == 1002


def _slow_down(**_: Any) -> Any:
    raise ClientError({"Error": {"Code": "SlowDown", "Message": "reduce your request rate"}}, "CopyObject")


def test_a_failing_copy_is_retried_and_nothing_is_deleted(s3: Any) -> None:
    outputs(s3, logs=1)
    before = versions(s3, "out-bkt")
    recording = Recording(s3)
    failures = iter([True, True])
    real_copy = recording.copy_object
    recording.copy_object = lambda **kw: _slow_down() if next(failures, False) else real_copy(**kw)
    sleeps: list[float] = []
    result = archive(
        S3Access(recording, ACCOUNT), DEPLOYMENT, state(), succeeded=True, execution_arn=ARN, sleep=sleeps.append
    )
    assert result["copied"] == 2 and sleeps == [1.0, 2.0]
    assert versions(s3, "out-bkt") == before
    assert not [op for op in recording.operations if op.startswith("delete")]


def test_a_copy_that_keeps_failing_or_differs_is_a_transient_error_for_the_state_machine(s3: Any) -> None:
    outputs(s3, logs=0)
    before = versions(s3, "out-bkt")
    recording = Recording(s3)
    recording.copy_object = _slow_down
    sleeps: list[float] = []
    with pytest.raises(TransientError, match="SlowDown"):
        archive(
            S3Access(recording, ACCOUNT), DEPLOYMENT, state(), succeeded=True, execution_arn=ARN, sleep=sleeps.append
        )
    assert len(sleeps) == COPY_ATTEMPTS - 1

    def corrupting(**kwargs: Any) -> Any:  # a copy whose bytes differ from its source
        return s3.put_object(Bucket=kwargs["Bucket"], Key=kwargs["Key"], Body=b"something else")

    recording.copy_object = corrupting
    with pytest.raises(TransientError, match="does not match its source"):
        archive(
            S3Access(recording, ACCOUNT), DEPLOYMENT, state(), succeeded=True, execution_arn=ARN, sleep=sleeps.append
        )
    assert versions(s3, "out-bkt") == before
    assert not [op for op in recording.operations if op.startswith("delete")]
    assert "runs/run-a/run.json" not in versions(s3, "archive-bkt")  # no record claims a copy that failed
    assert yaml.safe_load(body(s3, "archive-bkt", "runs/run-a/recipe.yaml")) == {"run": {"name": "nova-lite-cpt"}}


def test_the_run_report_is_archived_beside_run_json(s3: Any) -> None:
    """report.json: run.json's record with the dataset report MergeReports wrote (that version, this account)."""
    outputs(s3)
    dataset_report = {"stats": {"records": 300, "estimated_tokens": 4000, "length_histogram": []}, "warnings": []}
    written = s3.put_object(
        Bucket="archive-bkt", Key="runs/run-a/reports/train.json", Body=json.dumps(dataset_report).encode()
    )
    s3.put_object(Bucket="archive-bkt", Key="runs/run-a/reports/train.json", Body=b'{"stats": {"records": 1}}')
    datasets = [dataset_summary(report_version_id=written["VersionId"])]
    result = archive(S3Access(s3, ACCOUNT), DEPLOYMENT, state(datasets=datasets), succeeded=True, execution_arn=ARN)
    assert result["report"] == "s3://archive-bkt/runs/run-a/report.json"
    record = json.loads(body(s3, "archive-bkt", "runs/run-a/run.json"))
    assert record["datasets"][0]["report_version_id"] == written["VersionId"]
    report = json.loads(body(s3, "archive-bkt", "runs/run-a/report.json"))
    assert report == report_data(record, {"train": dataset_report})
    assert report["checkpoint"] == CHECKPOINT and report["job_name"] == JOB
    assert report["actual"]["instance_hours"] == 32.0 and report["datasets"][0]["estimated_tokens"] == 4000
