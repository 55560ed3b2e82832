"""`make bench`: `cpt validate-dataset --quality` speed on the long English and long Japanese shapes.

Each run is a child process (`python -m bench.quality_bench --child MODE PATH`) that measures its own
CPU seconds (user + system, start-up and imports left out) and peak memory: the plain mode (format,
exact duplicates), the quality pass alone (near-duplicates, languages, mojibake), and both, which is
what `--quality` costs. Median of BENCH_REPEAT (3) runs; BENCH_GB sets each file's size (0.1 GB).
Goal: the quality mode (both passes) at least 50 MB of file per CPU second on one core.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.corpus import SHAPES
from bench.dataset_bench import corpus, warm
from bench.measure import _cpu_seconds, _peak_rss_mib

QUALITY_SHAPES = ("en_long", "ja_long_raw", "ja_long_escaped")
GOAL_MB_PER_CPU_SECOND = 50.0
MODES = ("plain", "quality", "both")


def _child(mode: str, path: Path) -> None:
    from novacpt.dataset import DatasetOptions, validate_path
    from novacpt.dataset.quality import quality_report, sketch_stream

    start = _cpu_seconds()
    records = 0
    if mode in ("plain", "both"):
        validate_path(path, DatasetOptions())
    if mode in ("quality", "both"):
        with open(path, "rb", buffering=0) as stream:
            records = quality_report([sketch_stream(stream)]).records
    seconds = _cpu_seconds() - start
    json.dump({"cpu_seconds": seconds, "peak_mib": _peak_rss_mib(), "records": records}, sys.stdout)


def _run(mode: str, path: Path, repeat: int) -> dict[str, float]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "RAYON_NUM_THREADS": "1"}
    runs = []
    for _ in range(repeat):
        done = subprocess.run(
            [sys.executable, "-m", "bench.quality_bench", "--child", mode, str(path)],
            check=True,
            capture_output=True,
            text=True,
            env=env,
        )
        runs.append(json.loads(done.stdout))
    return {
        "cpu_seconds": statistics.median(r["cpu_seconds"] for r in runs),
        "peak_mib": max(r["peak_mib"] for r in runs),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", nargs=2, metavar=("MODE", "PATH"))
    args = parser.parse_args()
    if args.child:
        _child(args.child[0], Path(args.child[1]))
        return 0
    size = int(float(os.environ.get("BENCH_GB", "0.1")) * 1e9)
    repeat = int(os.environ.get("BENCH_REPEAT", "3"))
    print(
        f"dataset quality (--quality), {time.strftime('%Y-%m-%d')}, {os.cpu_count()}-core {platform.machine()}, "
        f"{size / 1e9:g} GB a shape, median CPU seconds of {repeat} runs, one core",
        flush=True,
    )
    print(f"{'shape':17} {'plain MB/s':>10} {'quality pass MB/s':>17} {'--quality MB/s':>14} {'peak MiB':>8}  verdict")
    missed = []
    for name in QUALITY_SHAPES:
        path = corpus(SHAPES[name], size)
        warm(path)
        megabytes = path.stat().st_size / 1e6
        speed = {mode: _run(mode, path, repeat) for mode in MODES}
        both = megabytes / speed["both"]["cpu_seconds"]
        ok = both >= GOAL_MB_PER_CPU_SECOND
        if not ok:
            missed.append(name)
        print(
            f"{name:17} {megabytes / speed['plain']['cpu_seconds']:10.0f} "
            f"{megabytes / speed['quality']['cpu_seconds']:17.0f} {both:14.0f} {speed['both']['peak_mib']:8.0f}  "
            f"{'ok' if ok else 'MISSED'} (goal >= {GOAL_MB_PER_CPU_SECOND:g} MB/s)",
            flush=True,
        )
    print("quality goal met" if not missed else f"quality goal missed: {', '.join(missed)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
