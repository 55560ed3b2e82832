"""Scale-out validation is exact: shards merged give the single-pass report, field by field."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from novacpt.contract import DatasetLimits, DatasetRef, PartitionRequest
from novacpt.dataset import DatasetOptions, validate_path, validate_stream
from novacpt.dataset.fanout import validate_fanned_out
from novacpt.dataset.quality import assess
from novacpt.dataset.shards import ShardStream, read_from, shard_bounds
from novacpt.kernel.errors import DatasetInvalid, PipelineError
from novacpt.kernel.ranged_reader import RangedReader
from novacpt.kernel.s3access import S3Access
from novacpt.kernel.settings import Deployment
from novacpt.steps.dataset import (
    count_duplicates_step,
    merge_reports_step,
    plan_validation_step,
    validate_dataset_step,
    validate_shard_step,
)

LINES = [
    b'{"text": "alpha"}',
    b'{"text":"alpha"}',  # an exact duplicate written differently
    b'{"text": "beta  gamma"}',
    b'{"text": "beta gamma"}',  # a duplicate after normalisation
    b'{"text": "caf\\u00e9"}',
    b'{"text": "caf\xc3\xa9"}',
    b"",
    b'{"text": 1}',
    b'{"text": "x", "text": "y"}',
    b"not json",
    b'{"text": "\xff"}',
    b'{"text": "' + b"long " * 40 + b'"}',
]


def _shard_parts(data: bytes, shard_bytes: int, read_size: int) -> list[bytes]:
    parts = []
    for start, end in shard_bounds(len(data), shard_bytes):
        source = io.BytesIO(data)
        source.seek(read_from(start))
        stream = ShardStream(source, start, end)
        out = b""
        while chunk := stream.read(read_size):
            out += chunk
        parts.append(out)
    return parts


@given(st.binary(max_size=300).map(lambda b: b.replace(b"\x00", b"\n")), st.integers(1, 40), st.integers(1, 9))
def test_every_line_belongs_to_exactly_one_shard(data: bytes, shard_bytes: int, read_size: int) -> None:
    parts = _shard_parts(data, shard_bytes, read_size)
    assert b"".join(parts) == data
    nonempty = [p for p in parts if p]
    assert all(p.endswith(b"\n") for p in nonempty[:-1])


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    lines=st.lists(st.sampled_from(LINES), max_size=60),
    final_newline=st.booleans(),
    shard_bytes=st.integers(1, 200),
    partitions=st.integers(1, 7),
    normalised=st.booleans(),
)
def test_sharded_report_equals_single_pass(
    tmp_path: Path, lines: list[bytes], final_newline: bool, shard_bytes: int, partitions: int, normalised: bool
) -> None:
    data = b"\n".join(lines) + (b"\n" if final_newline and lines else b"")
    path = tmp_path / "data.jsonl"
    path.write_bytes(data)
    options = DatasetOptions(normalised_duplicates=normalised, max_length=20, global_batch_size=32, max_epochs=2)
    single = validate_path(path, options).to_json_dict()
    sharded = validate_fanned_out(path, options, shard_bytes=shard_bytes, partitions=partitions)
    assert sharded.report.to_json_dict() == single


def test_boundaries_through_errors_and_duplicates_many_workers(tmp_path: Path) -> None:
    """Errors and duplicates straddling every shard boundary, more than 100 errors, several processes."""
    rows = []
    for i in range(3000):
        rows.append(b'{"text": "record %d"}' % (i % 700))  # duplicates across the whole file
        if i % 23 == 0:
            rows.append(b"")  # errors everywhere, far more than the 100 kept
    path = tmp_path / "train.jsonl"
    path.write_bytes(b"\n".join(rows) + b"\n")
    options = DatasetOptions(normalised_duplicates=True)
    single = validate_path(path, options).to_json_dict()
    for shard_bytes in (997, 4096, 10_000):
        sharded = validate_fanned_out(path, options, shard_bytes=shard_bytes, partitions=5, workers=2)
        assert sharded.report.to_json_dict() == single
        assert sharded.peak_mib and all(p > 0 for p in sharded.peak_mib)
    assert single["error_counts"] == {"empty_line": 131}
    assert len(single["errors"]) == 100
    assert single["stats"]["exact_duplicates"]["count"] == 2300


def test_ranged_reader_returns_the_range_in_order() -> None:
    data = bytes(range(256)) * 50
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="bucket")
        s3.put_object(Bucket="bucket", Key="k", Body=data)
        for start, stop in ((0, len(data)), (5, 1000), (1000, 1001), (7, 7)):
            with RangedReader(
                s3, "bucket", "k", start=start, stop=stop, part_bytes=97, workers=3, expected_owner="123456789012"
            ) as reader:
                out = b""
                while chunk := reader.read(41):
                    out += chunk
            assert out == data[start:stop]


@pytest.mark.parametrize("shard_bytes", [50, 333, 1 << 30])
def test_pipeline_steps_on_s3_equal_single_pass(shard_bytes: int) -> None:
    """Plan, shards, partition counts and merge through moto S3 give the report of one local pass."""
    body = b"\n".join(LINES * 7) + b"\n"
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        for bucket in ("data-bucket", "output-bucket", "archive-bucket"):
            s3.create_bucket(Bucket=bucket)
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})  # as deployed
        s3.put_object(Bucket="data-bucket", Key="jobs/a/train.jsonl", Body=body)
        deployment = Deployment(
            account_id="123456789012", region="us-east-1", data_bucket="data-bucket",
            output_bucket="output-bucket", archive_bucket="archive-bucket",
        )  # fmt: skip
        access = S3Access(s3, deployment.account_id)
        limits = DatasetLimits(max_length=20, global_batch_size=32, max_epochs=2)
        dataset = DatasetRef(role="train", uri="s3://data-bucket/jobs/a/train.jsonl")
        with pytest.raises(Exception, match=r"train\.jsonl:7: empty_line") as failure:
            validate_dataset_step(
                access, deployment, run_id="r", dataset=dataset, limits=limits, shard_bytes=shard_bytes,
            )  # fmt: skip
        assert type(failure.value).__name__ == "DatasetInvalid"
        report = json.loads(s3.get_object(Bucket="archive-bucket", Key="runs/r/reports/train.json")["Body"].read())
        expected = validate_stream(io.BytesIO(body), "train.jsonl", limits.options())
        quality = assess(io.BytesIO(body))  # the corpus quality of one local pass too
        expected.quality = quality.model_dump(mode="json", exclude_none=True)
        expected.warnings.extend(quality.warnings())
        single = expected.to_json_dict()
        assert {k: report[k] for k in single} == single


@pytest.fixture
def deployed_s3() -> Any:
    """moto's S3 with the deployment's three (versioned) buckets, and the steps' view of them."""
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        for bucket in ("data-bucket", "output-bucket", "archive-bucket"):
            s3.create_bucket(Bucket=bucket)
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        deployment = Deployment(
            account_id="123456789012", region="us-east-1", data_bucket="data-bucket",
            output_bucket="output-bucket", archive_bucket="archive-bucket",
        )  # fmt: skip
        yield s3, deployment, S3Access(s3, deployment.account_id)


LIMITS = DatasetLimits(max_length=20, global_batch_size=32, max_epochs=2)
TRAIN = DatasetRef(role="train", uri="s3://data-bucket/jobs/a/train.jsonl")


def test_a_dataset_deleted_before_planning_is_invalid_not_an_empty_report(deployed_s3: Any) -> None:
    _, _, access = deployed_s3
    with pytest.raises(DatasetInvalid, match=r"train\.jsonl: no such object: upload the dataset before the recipe"):
        plan_validation_step(access, run_id="r", datasets=[TRAIN], limits=LIMITS)


def test_a_report_is_never_merged_from_part_of_the_shards(deployed_s3: Any) -> None:
    """A shard whose result went missing (a lost Map item) fails the merge: no report from half a dataset."""
    s3, deployment, access = deployed_s3
    good = b"".join(json.dumps({"text": f"note {i} " * 3}).encode() + b"\n" for i in range(60))
    s3.put_object(Bucket="data-bucket", Key="jobs/a/train.jsonl", Body=good)
    plan = plan_validation_step(access, run_id="r", datasets=[TRAIN], limits=LIMITS, shard_bytes=500)
    shards = [validate_shard_step(access, deployment, shard) for shard in plan.shards]
    assert len(shards) > 2
    duplicates = [
        count_duplicates_step(access, deployment, PartitionRequest(run_id="r", role=p.role, partition=p.partition,
                                                                   shards=shards))
        for p in plan.partitions
    ]  # fmt: skip
    with pytest.raises(PipelineError, match=rf"train\.jsonl: {len(shards) - 1} of {len(shards)} shards were scanned"):
        merge_reports_step(access, deployment, plan=plan, shards=shards[:-1], duplicates=duplicates)
    (summary,) = merge_reports_step(access, deployment, plan=plan, shards=shards, duplicates=duplicates)
    assert (summary.records, summary.shards) == (60, len(shards))  # with every shard: the whole dataset


def test_a_refused_listing_names_the_prefix(deployed_s3: Any) -> None:
    _, _, access = deployed_s3
    with pytest.raises(PipelineError, match=r"s3://someone-elses-bucket/runs/: no such bucket"):
        list(access.list("s3://someone-elses-bucket/runs/"))
