"""The pipeline measures corpus quality exactly as one local pass does, and its cdk.json bounds fail the run.

Plan, ValidateShard, CountDuplicates and MergeReports run on moto S3 with small shards and several key
partitions (the training and validation sets partitioned differently), so near copies, groups and
validation copies must be found across shards and partitions.
"""

from __future__ import annotations

import io
import json
import random
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from novacpt.contract import DatasetLimits, DatasetRef, PartitionRequest
from novacpt.dataset.quality import assess
from novacpt.kernel.errors import DatasetInvalid
from novacpt.kernel.s3access import S3Access
from novacpt.kernel.settings import Deployment, QualityBounds
from novacpt.steps import dataset as steps
from tests.quality_corpus import SENTENCES, Planted, near_copy_ja, planted_corpus

LIMITS = DatasetLimits(max_length=8192, global_batch_size=32, max_epochs=2)
DEPLOYMENT = Deployment(
    account_id="123456789012",
    region="us-east-1",
    data_bucket="data-bucket",
    output_bucket="output-bucket",
    archive_bucket="archive-bucket",
)


def _body(corpus: Planted) -> bytes:
    return "".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in corpus.texts).encode()


@pytest.fixture(scope="module")
def bodies() -> tuple[bytes, bytes, list[int]]:
    """Training and validation bodies; the validation lines that copy training records."""
    train = planted_corpus(seed=31, originals=90, copies=18)
    rng = random.Random(2)
    validation = Planted(texts=[f"{SENTENCES['fr']} {i}" for i in range(6)])
    japanese = [line for line, lang in train.languages.items() if lang == "ja" and line not in train.copies]
    copies = [validation.add(train.texts[i]) for i in (0, 1)]
    copies += [validation.add(near_copy_ja(rng, train.texts[line - 1])) for line in japanese[:2]]
    return _body(train), _body(validation), copies


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setattr(steps, "PARTITION_BYTES", 30_000)  # several key partitions, different per dataset
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        for bucket in ("data-bucket", "output-bucket", "archive-bucket"):
            client.create_bucket(Bucket=bucket)
            client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})  # as deployed
        yield client


def _run(client: Any, bodies: tuple[bytes, bytes, list[int]], bounds: QualityBounds | None = None) -> Any:
    train, validation, _ = bodies
    client.put_object(Bucket="data-bucket", Key="jobs/a/train.jsonl", Body=train)
    client.put_object(Bucket="data-bucket", Key="jobs/a/validation.jsonl", Body=validation)
    access = S3Access(client, DEPLOYMENT.account_id)
    datasets = [
        DatasetRef(role="train", uri="s3://data-bucket/jobs/a/train.jsonl"),
        DatasetRef(role="validation", uri="s3://data-bucket/jobs/a/validation.jsonl"),
    ]
    plan = steps.plan_validation_step(access, run_id="r", datasets=datasets, limits=LIMITS, shard_bytes=25_000)
    assert plan.datasets[0].partitions > 1 and len(plan.shards) > 3
    shards = [steps.validate_shard_step(access, DEPLOYMENT, shard) for shard in plan.shards]
    duplicates = [
        steps.count_duplicates_step(
            access, DEPLOYMENT, PartitionRequest(run_id="r", role=p.role, partition=p.partition, shards=shards)
        )
        for p in plan.partitions
    ]
    return steps.merge_reports_step(access, DEPLOYMENT, plan=plan, shards=shards, duplicates=duplicates, bounds=bounds)


def _report(client: Any, role: str) -> dict[str, Any]:
    body = client.get_object(Bucket="archive-bucket", Key=f"runs/r/reports/{role}.json")["Body"].read()
    return dict(json.loads(body))


def test_sharded_quality_equals_one_local_pass(s3: Any, bodies: tuple[bytes, bytes, list[int]]) -> None:
    summaries = _run(s3, bodies)
    train, validation, copies = bodies
    single = assess(io.BytesIO(train), io.BytesIO(validation))
    report = _report(s3, "train")
    assert report["quality"] == single.model_dump(mode="json", exclude_none=True)
    assert report["quality"]["validation_overlap"] == {"exact": 2, "near": 2, "lines": copies}
    assert report["quality"]["near_duplicates"]["count"] >= 17  # of 18 planted near copies
    assert _report(s3, "validation")["quality"] == assess(io.BytesIO(validation)).model_dump(
        mode="json", exclude_none=True
    )
    headline = summaries[0].quality
    assert headline["near_duplicates"] == {
        k: v for k, v in single.near_duplicates.model_dump().items() if k != "clusters"
    }
    assert headline["validation_overlap"] == {"exact": 2, "near": 2}
    codes = {w["code"] for w in summaries[0].warnings}
    assert {"near_duplicate_rate", "validation_overlap", "mojibake"} <= codes


@pytest.mark.parametrize(
    ("bounds", "message"),
    [
        (QualityBounds(max_near_duplicate_rate=0.05), "is over max_near_duplicate_rate 0.05 (first groups of lines:"),
        (QualityBounds(max_validation_overlap=0), "over max_validation_overlap 0 (first validation lines: "),
        (QualityBounds(max_mojibake_rate=0.0), "is over max_mojibake_rate 0 (first lines: "),
    ],
)
def test_a_quality_bound_fails_the_run_with_located_lines(
    s3: Any, bodies: tuple[bytes, bytes, list[int]], bounds: QualityBounds, message: str
) -> None:
    with pytest.raises(DatasetInvalid) as failure:
        _run(s3, bodies, bounds)
    text = str(failure.value)
    assert "s3://data-bucket/jobs/a/train.jsonl: corpus quality over its bounds" in text
    assert message in text
    assert "full report: s3://archive-bucket/runs/r/reports/train.json" in text


def test_generous_bounds_let_the_run_go_on(s3: Any, bodies: tuple[bytes, bytes, list[int]]) -> None:
    bounds = QualityBounds(max_near_duplicate_rate=0.5, max_validation_overlap=10, max_mojibake_rate=0.5)
    assert len(_run(s3, bodies, bounds)) == 2


def test_shards_of_short_lines_are_cut_to_a_record_count(s3: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The quality sketch holds ~180 bytes a record: a shard of short lines holds at most MAX_SHARD_RECORDS."""
    monkeypatch.setattr(steps, "MAX_SHARD_RECORDS", 50)
    body = b"".join(json.dumps({"text": f"short record {i:05d}"}).encode() + b"\n" for i in range(1000))
    s3.put_object(Bucket="data-bucket", Key="jobs/a/short.jsonl", Body=body)
    access = S3Access(s3, DEPLOYMENT.account_id)
    dataset = DatasetRef(role="train", uri="s3://data-bucket/jobs/a/short.jsonl")
    plan = steps.plan_validation_step(access, run_id="r", datasets=[dataset], limits=LIMITS, shard_bytes=1 << 30)
    line = len(body) // 1000
    assert len(plan.shards) == -(-len(body) // (50 * line))
    long_lines = b"".join(json.dumps({"text": "word " * 400}).encode() + b"\n" for _ in range(20))
    s3.put_object(Bucket="data-bucket", Key="jobs/a/long.jsonl", Body=long_lines)
    dataset = DatasetRef(role="train", uri="s3://data-bucket/jobs/a/long.jsonl")
    long = steps.plan_validation_step(access, run_id="r", datasets=[dataset], limits=LIMITS, shard_bytes=1 << 30)
    assert len(long.shards) == 1  # 20 records: far under the cap
