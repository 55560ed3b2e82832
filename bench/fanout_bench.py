"""`make bench` (second part): the scale-out validation simulated on this machine, on the slowest shape.

One file of the slowest shape (BENCH_FANOUT_SHAPE, default `ja_short_escaped`; 2 x BENCH_GB bytes,
BENCH_FANOUT_GB to change it) validated by one process in a single pass, then as the pipeline does
it: 8 byte-range shards scanned by N worker processes (BENCH_WORKERS, default the machine's cores),
hashes merged by partition. Prints CPU seconds and wall time of both, each shard's peak memory and
its growth with the shard's size (for the Lambda memory sizing), and checks the two reports are equal.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from bench.corpus import SHAPES
from bench.dataset_bench import corpus, warm
from novacpt.dataset import DatasetOptions, validate_path
from novacpt.dataset.fanout import ShardOutput, scan_shard, validate_fanned_out

SHARDS = 8
LAMBDA_SHARD_GIB = 16


def _fresh_scan(path: Path, end: int) -> ShardOutput:
    """One shard [0, end) scanned in a new interpreter, so its peak memory is its own."""
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(scan_shard, str(path), 0, end, 8, False).result()


def main() -> int:
    base = float(os.environ.get("BENCH_GB", "0.1"))
    size = int(float(os.environ.get("BENCH_FANOUT_GB", str(2 * base))) * 1e9)
    workers = int(os.environ.get("BENCH_WORKERS", str(os.cpu_count() or 1)))
    shape = SHAPES[os.environ.get("BENCH_FANOUT_SHAPE", "ja_short_escaped")]
    path = corpus(shape, size)
    options = DatasetOptions()
    warm(path)
    gigabytes = path.stat().st_size / 1e9
    shard_bytes = -(-path.stat().st_size // SHARDS)
    cpu, wall = time.process_time(), time.perf_counter()
    single = validate_path(path, options)
    single_cpu, single_wall = time.process_time() - cpu, time.perf_counter() - wall
    fanned = validate_fanned_out(path, options, shard_bytes=shard_bytes, partitions=8, workers=workers)
    fanned_wall = fanned.scan_seconds + fanned.merge_seconds
    peaks = fanned.peak_mib
    same = fanned.report.to_json_dict() == single.to_json_dict()
    print(
        f"fan-out on {gigabytes:.2f} GB of {shape.name}, {SHARDS} shards of {shard_bytes / 1e6:.0f} MB, "
        f"{workers} workers:"
    )
    print(
        f"  single pass   {single_cpu:7.2f} CPU s  {gigabytes / single_cpu:5.2f} GB/CPU s   wall {single_wall:6.2f} s"
    )
    print(
        f"  fanned out    {sum(fanned.shard_cpu_seconds):7.2f} CPU s in the shards, wall {fanned_wall:6.2f} s "
        f"(scans {fanned.scan_seconds:.2f} s in parallel, merge {fanned.merge_seconds:.2f} s), "
        f"speed-up {single_wall / fanned_wall:4.2f}x"
    )
    # Memory of one shard against its size: the slope sizes a Lambda for a LAMBDA_SHARD_GIB shard.
    whole = path.stat().st_size
    small, large = (_fresh_scan(path, end) for end in (whole // 2, whole))
    slope = (large.peak_mib - small.peak_mib) / (whole / 2 / 2**30)
    estimate = large.peak_mib + slope * (LAMBDA_SHARD_GIB - whole / 2**30)
    print(f"  peak memory per worker: max {max(peaks):.0f} MiB, mean {sum(peaks) / len(peaks):.0f} MiB")
    print(
        f"  one shard in a fresh process: {small.peak_mib:.0f} MiB at {whole / 2e6:.0f} MB, {large.peak_mib:.0f} MiB "
        f"at {whole / 1e6:.0f} MB: ~{slope:.0f} MiB a GiB, ~{estimate:.0f} MiB for a {LAMBDA_SHARD_GIB} GiB shard"
    )
    print(f"  shard scan speed: {whole / 1e9 / large.cpu_seconds:.2f} GB/CPU s")
    print(f"  reports equal: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
