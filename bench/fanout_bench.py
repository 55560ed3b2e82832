"""`make bench` (second part): the scale-out validation simulated on this machine.

One 2 GB file of ~200 B lines (the slowest kind), validated by one process in a single pass, then as
the pipeline does it: 256 MiB shards scanned by N worker processes, hashes merged by partition.
Prints both times, the speed-up and each worker's peak memory; checks the two reports are equal.
BENCH_FANOUT_GB sets the size, BENCH_WORKERS the worker count (default: the machine's cores).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from bench.corpus import write_corpus
from bench.dataset_bench import warm
from novacpt.dataset import DatasetOptions, validate_path
from novacpt.dataset.fanout import validate_fanned_out

OUT = Path(__file__).resolve().parent / "out"
SHARD_BYTES = 256 << 20


def main() -> int:
    size = int(float(os.environ.get("BENCH_FANOUT_GB", "2")) * 1e9)
    workers = int(os.environ.get("BENCH_WORKERS", str(os.cpu_count() or 1)))
    OUT.mkdir(exist_ok=True)
    path = OUT / "fanout.jsonl"
    if not path.exists() or abs(path.stat().st_size - size) > 1_000_000:
        print(f"generating {path.name} ({size / 1e9:.1f} GB, ~200 chars a line)...", flush=True)
        write_corpus(path, total_bytes=size, line_chars=200, seed=11)
    options = DatasetOptions()
    warm(path)
    start = time.perf_counter()
    single = validate_path(path, options)
    single_s = time.perf_counter() - start
    fanned = validate_fanned_out(path, options, shard_bytes=SHARD_BYTES, partitions=8, workers=workers)
    fanned_s = fanned.scan_seconds + fanned.merge_seconds
    peaks = fanned.peak_mib
    same = fanned.report.to_json_dict() == single.to_json_dict()
    gigabytes = path.stat().st_size / 1e9
    print(f"fan-out on {gigabytes:.1f} GB, {len(peaks)} shards of {SHARD_BYTES >> 20} MiB, {workers} workers:")
    print(f"  single pass   {single_s:7.2f} s  {gigabytes / single_s:5.2f} GB/s")
    print(f"  fanned out    {fanned_s:7.2f} s  {gigabytes / fanned_s:5.2f} GB/s  speed-up {single_s / fanned_s:4.2f}x")
    print(
        f"    shard scans {fanned.scan_seconds:7.2f} s (in parallel), merge {fanned.merge_seconds:.2f} s (one process)"
    )
    print(f"  peak memory per worker: max {max(peaks):.0f} MiB, mean {sum(peaks) / len(peaks):.0f} MiB")
    print(f"  reports equal: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
