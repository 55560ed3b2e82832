"""Validate one local file as the pipeline does at scale: shards scanned by separate workers, merged exactly."""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from novacpt.dataset.duplicates import combine
from novacpt.dataset.report import DatasetReport
from novacpt.dataset.scan import scan_stream
from novacpt.dataset.sharded import ROW, partition, partition_duplicates, scan_of, summary_of
from novacpt.dataset.shards import ShardStream, read_from, shard_bounds
from novacpt.dataset.validate import DatasetOptions, build_report


@dataclass(frozen=True)
class FanOut:
    """The merged report, each shard's peak memory and CPU seconds, and where the time went."""

    report: DatasetReport
    peak_mib: list[float]
    shard_cpu_seconds: list[float]
    scan_seconds: float
    merge_seconds: float


@dataclass(frozen=True)
class ShardOutput:
    """What a worker returns: the JSON summary, the partitioned hashes, its peak memory and CPU time."""

    summary: dict[str, Any]
    exact: list[bytes]
    normalised: list[bytes] | None
    peak_mib: float
    cpu_seconds: float


def _peak_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _as_bytes(parts: list[Any]) -> list[bytes]:
    """Each partition's rows as bytes, freeing the arrays as it goes (memory stays at one copy)."""
    out = []
    parts.reverse()
    while parts:
        out.append(parts.pop().tobytes())
    return out


def scan_shard(path: str, start: int, end: int, partitions: int, normalised: bool) -> ShardOutput:
    """Scan bytes [start, end) of a file as one shard (run in a worker process)."""
    cpu = time.process_time()
    with open(path, "rb", buffering=0) as stream:
        stream.seek(read_from(start))
        scan = scan_stream(ShardStream(stream, start, end), normalised=normalised, file_start=start == 0)
    exact = _as_bytes(partition(scan.hashes, partitions))
    norm = _as_bytes(partition(scan.norm_hashes or [], partitions)) if normalised else None
    summary = json.loads(json.dumps(summary_of(scan)))
    return ShardOutput(summary, exact, norm, _peak_mib(), time.process_time() - cpu)


def validate_fanned_out(
    path: Path,
    options: DatasetOptions,
    *,
    shard_bytes: int,
    partitions: int = 4,
    workers: int = 1,
) -> FanOut:
    """The report of `path` from shards scanned by `workers` processes (1: in this process)."""
    bounds = shard_bounds(os.path.getsize(path), shard_bytes)
    started = time.perf_counter()
    jobs = [(str(path), start, end, partitions, options.normalised_duplicates) for start, end in bounds]
    if workers == 1:
        outputs = [scan_shard(*job) for job in jobs]
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            outputs = list(pool.map(scan_shard, *zip(*jobs, strict=True)))
    scanned = time.perf_counter()
    offsets = np.cumsum([0, *(o.summary["lines"] for o in outputs)])[:-1].tolist()

    def count(kind: str) -> Any:
        return combine(
            partition_duplicates(
                [
                    (offset, np.frombuffer(getattr(o, kind)[p], dtype=ROW))
                    for offset, o in zip(offsets, outputs, strict=True)
                ]
            )
            for p in range(partitions)
        )

    duplicates = (count("exact"), count("normalised") if options.normalised_duplicates else None)
    report = build_report(path.name, [scan_of(o.summary) for o in outputs], options, duplicates)
    peaks = [o.peak_mib for o in outputs]
    cpu = [o.cpu_seconds for o in outputs]
    return FanOut(report, peaks, cpu, scanned - started, time.perf_counter() - scanned)
