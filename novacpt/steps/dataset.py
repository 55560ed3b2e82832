"""ValidateDatasets, scaled out: plan byte-range shards, scan them in parallel, merge the reports exactly.

PlanValidation splits each dataset into shards of at most SHARD_BYTES; ValidateShard scans one
(parallel ranged GETs) and leaves a summary and its hashes, by partition, in the archive;
CountDuplicates counts one hash partition across all shards; MergeReports builds each dataset's
report - equal, field by field, to a single pass - and fails the run if any dataset is invalid.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
from botocore.exceptions import ClientError

from novacpt.contract import (
    DatasetLimits,
    DatasetRef,
    DatasetSummary,
    Partition,
    PartitionDuplicates,
    PartitionRequest,
    PlannedDataset,
    Shard,
    ShardResult,
    ValidationPlan,
)
from novacpt.dataset import DatasetReport, build_report, scan_stream
from novacpt.dataset.duplicates import Duplicates, combine
from novacpt.dataset.quality import (
    QualityFeeder,
    QualityReport,
    QualitySketch,
    Tally,
    Tee,
    build_quality,
    partition_edges,
    partition_overlap,
)
from novacpt.dataset.sharded import ROW, partition, partition_duplicates, scan_of, summary_of
from novacpt.dataset.shards import ShardStream, read_from, shard_bounds
from novacpt.dataset.shingles import BANDS
from novacpt.drop import run_prefix
from novacpt.kernel.errors import DatasetInvalid, PipelineError
from novacpt.kernel.ranged_reader import RangedReader
from novacpt.kernel.s3access import S3Access
from novacpt.kernel.s3uri import s3_uri, split_s3_uri
from novacpt.kernel.settings import Deployment, QualityBounds

SHOWN_ERRORS = 10
# One shard is what one invocation scans in well under its 15 minutes at the slowest measured
# rate (0.5 GB/s on ~200 B lines), with 16 bytes a record of hashes fitting its memory.
SHARD_BYTES = 16 << 30
# Hash partitions: about one per 4 GiB of data, so one partition of even the shortest records
# fits one CountDuplicates invocation; at most 256.
PARTITION_BYTES = 4 << 30
MAX_PARTITIONS = 256
# The corpus-quality sketch holds ~180 bytes a record (10 band keys and a text hash, with lines): a
# shard of short lines is cut to at most this many records (by the line length of the file's first
# HEAD_BYTES), so ValidateShard's 4 GB hold it beside the scan.
MAX_SHARD_RECORDS = 10_000_000
HEAD_BYTES = 1 << 20
MIN_RECORD_BYTES = len(b'{"text":"x"}\n')


def _shard_bytes_for(s3: S3Access, uri: str, version_id: str | None, size: int, shard_bytes: int) -> int:
    """`shard_bytes`, or less for a file of short lines (MAX_SHARD_RECORDS lines of its head's average length)."""
    if size <= MAX_SHARD_RECORDS * MIN_RECORD_BYTES:  # cannot hold more records than that
        return shard_bytes
    body, _ = s3.open(uri, version_id)
    try:
        head = body.read(HEAD_BYTES)
    finally:
        body.close()
    lines = max(head.count(b"\n"), 1)
    return max(1, min(shard_bytes, MAX_SHARD_RECORDS * max(len(head) // lines, 1)))


def _shard_key(run_id: str, role: str, index: int) -> str:
    return f"{run_prefix(run_id)}validation/{role}/shard-{index:05d}"


def plan_validation_step(
    s3: S3Access,
    *,
    run_id: str,
    datasets: list[DatasetRef],
    limits: DatasetLimits,
    shard_bytes: int = SHARD_BYTES,
) -> ValidationPlan:
    """Shards and hash partitions of every dataset (each pinned to the version seen now)."""
    plans, shards, partitions = [], [], []
    for dataset in datasets:
        info = s3.head(dataset.uri)
        if info is None:
            raise DatasetInvalid(f"{dataset.uri}: no such object: upload the dataset before the recipe")
        count = max(1, min(MAX_PARTITIONS, math.ceil(info.size / PARTITION_BYTES)))
        bounds = shard_bounds(info.size, _shard_bytes_for(s3, dataset.uri, info.version_id, info.size, shard_bytes))
        plans.append(
            PlannedDataset(
                role=dataset.role,
                uri=dataset.uri,
                version_id=info.version_id,
                etag=info.etag,
                bytes=info.size,
                shards=len(bounds),
                partitions=count,
            )
        )
        shards += [
            Shard(
                run_id=run_id,
                role=dataset.role,
                uri=dataset.uri,
                version_id=info.version_id,
                index=index,
                start=start,
                end=end,
                size=info.size,
                partitions=count,
            )
            for index, (start, end) in enumerate(bounds)
        ]
        partitions += [Partition(run_id=run_id, role=dataset.role, partition=p) for p in range(count)]
    return ValidationPlan(run_id=run_id, limits=limits, datasets=plans, shards=shards, partitions=partitions)


def validate_shard_step(s3: S3Access, deployment: Deployment, shard: Shard) -> ShardResult:
    """Scan one shard; leave its summary and partitioned hashes in the archive; return its line count."""
    bucket, key = split_s3_uri(shard.uri)
    reader = RangedReader(
        s3.client,
        bucket,
        key,
        start=read_from(shard.start),
        stop=shard.size,
        version_id=shard.version_id,
        expected_owner=deployment.account_id,
    )
    quality = QualityFeeder()  # the corpus-quality pass reads the same bytes as the scan
    try:
        with reader:
            stream = Tee(ShardStream(reader, shard.start, shard.end), quality.feed)
            scan = scan_stream(stream, file_start=shard.start == 0)
    except ClientError as exc:  # the reader's ranged GETs bypass S3Access: same translation (SlowDown retried)
        raise s3.failure(shard.uri, exc) from exc
    sketch = quality.finish()
    rows = partition(scan.hashes, shard.partitions)
    offsets = np.cumsum([0, *(r.nbytes for r in rows)]).tolist()
    near = sketch.partitioned(shard.partitions * BANDS)[0]
    near_offsets = np.cumsum([0, *(r.nbytes for r in near)]).tolist()
    base = s3_uri(deployment.archive_bucket, _shard_key(shard.run_id, shard.role, shard.index))
    s3.put(f"{base}.hashes", b"".join(r.data for r in rows), "application/octet-stream")  # one copy
    s3.put(f"{base}.near", b"".join(r.tobytes() for r in near), "application/octet-stream")
    s3.put_json(
        f"{base}.json",
        {**summary_of(scan), "partition_offsets": offsets, "near_offsets": near_offsets, "quality": sketch.summary()},
    )
    return ShardResult(role=shard.role, index=shard.index, lines=scan.lines)


def _shards_of(role: str, shards: list[ShardResult]) -> list[tuple[int, int]]:
    """(index, first line - 1) of a dataset's shards, in file order."""
    mine = sorted((s.index, s.lines) for s in shards if s.role == role)
    offsets = np.cumsum([0, *(lines for _, lines in mine)]).tolist()
    return [(index, int(offsets[i])) for i, (index, _) in enumerate(mine)]


def count_duplicates_step(s3: S3Access, deployment: Deployment, request: PartitionRequest) -> PartitionDuplicates:
    """Exact duplicates within one hash partition of one dataset, across all its shards."""
    parts, shards = [], []
    for index, offset in _shards_of(request.role, request.shards):
        base = s3_uri(deployment.archive_bucket, _shard_key(request.run_id, request.role, index))
        summary = json.loads(s3.read(f"{base}.json", max_bytes=8 << 20))
        bounds = summary["partition_offsets"]
        blob = s3.read_range(f"{base}.hashes", bounds[request.partition], bounds[request.partition + 1])
        parts.append((offset, np.frombuffer(blob, dtype=ROW)))
        shards.append((base, offset, summary["near_offsets"]))
    found = partition_duplicates(parts)
    _near_copies(s3, deployment, request, parts, shards)
    return PartitionDuplicates(
        role=request.role,
        partition=request.partition,
        count=found.count,
        examples=[list(pair) for pair in found.examples],
    )


def _quality_key(run_id: str, role: str, name: str) -> str:
    return f"{run_prefix(run_id)}validation/{role}/{name}"


def _near_copies(
    s3: S3Access,
    deployment: Deployment,
    request: PartitionRequest,
    exact: list[tuple[int, Any]],
    shards: list[tuple[str, int, list[int]]],
) -> None:
    """Near-copy edges of one key partition (BANDS sub-partitions, one at a time) and, for the training set,
    the validation lines that copy it; both left in the archive for MergeReports."""
    partitions = len(shards[0][2]) // BANDS if shards else 1
    validation = _validation_rows(s3, deployment, request) if request.role == "train" else None
    first, second, near_lines = [], [], []
    for band in range(BANDS):
        sub = request.partition + band * partitions
        rows = [
            (offset, _rows(s3.read_range(f"{base}.near", bounds[sub], bounds[sub + 1])))
            for base, offset, bounds in shards
        ]
        a, b = partition_edges(rows)
        first.append(a)
        second.append(b)
        if validation is not None:
            near = [(o, r[r["hash"] % np.uint64(partitions * BANDS) == sub]) for o, r in validation[0]]
            near_lines.append(partition_overlap(rows, near))
    a, b = np.concatenate(first), np.concatenate(second)
    name = f"near-{request.partition:05d}"
    # [count, firsts..., others...]: never an empty object (S3 refuses a range of an empty one)
    blob = np.concatenate([[a.size], a, b]).astype("<i8").tobytes()
    s3.put(
        s3_uri(deployment.archive_bucket, _quality_key(request.run_id, request.role, name)),
        blob,
        "application/octet-stream",
    )
    if validation is not None:
        exact_rows = [(o, r[r["hash"] % np.uint64(partitions) == request.partition]) for o, r in validation[1]]
        overlap = {
            "exact": partition_overlap(exact, exact_rows).tolist(),
            "near": np.concatenate(near_lines).tolist() if near_lines else [],
        }
        name = f"overlap-{request.partition:05d}.json"
        s3.put_json(s3_uri(deployment.archive_bucket, _quality_key(request.run_id, "train", name)), overlap)


def _rows(blob: bytes) -> Any:
    return np.frombuffer(blob, dtype=ROW)


def _validation_rows(
    s3: S3Access, deployment: Deployment, request: PartitionRequest
) -> tuple[list[tuple[int, Any]], list[tuple[int, Any]]] | None:
    """(band rows, text-hash rows) of every validation shard, whole, or None without a validation set."""
    found = _shards_of("validation", request.shards)
    if not found:
        return None
    near, exact = [], []
    for index, offset in found:
        base = s3_uri(deployment.archive_bucket, _shard_key(request.run_id, "validation", index))
        summary = json.loads(s3.read(f"{base}.json", max_bytes=8 << 20))
        near.append((offset, _rows(s3.read_range(f"{base}.near", 0, summary["near_offsets"][-1]))))
        exact.append((offset, _rows(s3.read_range(f"{base}.hashes", 0, summary["partition_offsets"][-1]))))
    return near, exact


def dataset_quality(
    s3: S3Access, deployment: Deployment, plan: ValidationPlan, dataset: PlannedDataset, shards: list[ShardResult]
) -> QualityReport:
    """One dataset's quality report from its shards' summaries and its partitions' edges (and overlap)."""
    sketches = []
    for index, offset in _shards_of(dataset.role, shards):
        base = s3_uri(deployment.archive_bucket, _shard_key(plan.run_id, dataset.role, index))
        summary = json.loads(s3.read(f"{base}.json", max_bytes=8 << 20))["quality"]
        sketches.append((offset, QualitySketch.of_summary(summary)))
    edges = []
    for p in range(dataset.partitions):
        key = _quality_key(plan.run_id, dataset.role, f"near-{p:05d}")
        found = np.frombuffer(s3.read(s3_uri(deployment.archive_bucket, key), max_bytes=1 << 34), dtype="<i8")
        count = int(found[0])
        edges.append((found[1 : 1 + count], found[1 + count :]))
    overlap = None
    if dataset.role == "train" and any(d.role == "validation" for d in plan.datasets):
        exact, near = [], []
        for p in range(dataset.partitions):
            key = _quality_key(plan.run_id, "train", f"overlap-{p:05d}.json")
            found = json.loads(s3.read(s3_uri(deployment.archive_bucket, key), max_bytes=1 << 30))
            exact += found["exact"]
            near += found["near"]
        overlap = (np.asarray(exact, dtype=np.int64), np.asarray(near, dtype=np.int64))
    return build_quality(Tally.of(sketches), edges, overlap)


def merge_reports_step(
    s3: S3Access,
    deployment: Deployment,
    *,
    plan: ValidationPlan,
    shards: list[ShardResult],
    duplicates: list[PartitionDuplicates],
    bounds: QualityBounds | None = None,
) -> list[DatasetSummary]:
    """Each dataset's report from its shards, with its quality; DatasetInvalid naming the first bad lines of
    every bad one, and every quality figure over its bound (cdk.json), before any capacity is taken."""
    options = plan.limits.options()
    summaries, problems = [], []
    for dataset in plan.datasets:
        role = dataset.role
        scans = []
        for index, _ in _shards_of(role, shards):
            base = s3_uri(deployment.archive_bucket, _shard_key(plan.run_id, role, index))
            scans.append(scan_of(json.loads(s3.read(f"{base}.json", max_bytes=8 << 20))))
        if len(scans) != dataset.shards:
            raise PipelineError(f"{dataset.uri}: {len(scans)} of {dataset.shards} shards were scanned")
        exact = combine(
            Duplicates(d.count, [(pair[0], pair[1]) for pair in d.examples]) for d in duplicates if d.role == role
        )
        report = build_report(dataset.uri.rsplit("/", 1)[-1], scans, options, (exact, None))
        quality = dataset_quality(s3, deployment, plan, dataset, shards)
        report.quality = quality.model_dump(mode="json", exclude_none=True)
        report.warnings.extend(quality.warnings())
        report_uri = s3_uri(deployment.archive_bucket, f"{run_prefix(plan.run_id)}reports/{role}.json")
        written = s3.put_json(
            report_uri, {"dataset": dataset.uri, "version_id": dataset.version_id, **report.to_json_dict()}
        )
        if not report.valid:
            problems.append(describe_invalid(dataset.uri, report, report_uri))
        if bounds is not None and (over := quality.over(bounds)):
            problems.append(describe_over_bounds(dataset.uri, over, report_uri))
        summaries.append(
            DatasetSummary(
                **dataset.pinned(),
                records=report.stats["records"],
                estimated_tokens=report.stats["estimated_tokens"],
                warnings=[w.to_dict() for w in report.warnings],
                quality=quality.headline(),
                report_uri=report_uri,
                report_version_id=written.version_id,
            )
        )
    if problems:
        raise DatasetInvalid("\n".join(problems))
    return summaries


def validate_dataset_step(
    s3: S3Access,
    deployment: Deployment,
    *,
    run_id: str,
    dataset: DatasetRef,
    limits: DatasetLimits,
    shard_bytes: int = SHARD_BYTES,
) -> DatasetSummary:
    """All the steps above for one dataset, in this process (what the state machine does in parallel)."""
    plan = plan_validation_step(s3, run_id=run_id, datasets=[dataset], limits=limits, shard_bytes=shard_bytes)
    shards = [validate_shard_step(s3, deployment, shard) for shard in plan.shards]
    duplicates = [
        count_duplicates_step(
            s3,
            deployment,
            PartitionRequest(run_id=p.run_id, role=p.role, partition=p.partition, shards=shards),
        )
        for p in plan.partitions
    ]
    (summary,) = merge_reports_step(s3, deployment, plan=plan, shards=shards, duplicates=duplicates)
    return summary


def describe_over_bounds(uri: str, over: list[str], report_uri: str) -> str:
    """The quality figures over their cdk.json bounds, one line each, plus where the full report is."""
    return "\n".join(
        [
            f"{uri}: corpus quality over its bounds",
            *(f"  {uri}: {line}" for line in over),
            f"  full report: {report_uri}",
        ]
    )


def describe_invalid(uri: str, report: DatasetReport, report_uri: str) -> str:
    """The first bad lines and the counts by code, compiler style, plus where the full report is."""
    total = sum(report.error_counts.values())
    counts = ", ".join(f"{code}: {n}" for code, n in sorted(report.error_counts.items()))
    lines = [f"{uri}: {total} error(s) ({counts})"]
    for error in report.errors[:SHOWN_ERRORS]:
        where = f"{uri}:{error.line}" if error.line is not None else uri
        lines.append(f"  {where}: {error.code}: {error.message}")
    lines.append(f"  {'... ' if total > SHOWN_ERRORS else ''}full report: {report_uri}")
    return "\n".join(lines)
