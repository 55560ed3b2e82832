"""`make bench`: the dataset validator against a naive baseline, on the same files, in the same run.

Goals (issue "Foundation"), one core: >= 1.0 GB/s on ~30 KB lines and >= 0.4 GB/s on ~200 B lines
with exact duplicates; >= 0.5 and >= 0.2 GB/s with normalised duplicates too; peak memory
<= 300 MiB on the 1 GB file of short lines. Set BENCH_GB to change the file size (default 1).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bench.corpus import write_corpus

OUT = Path(__file__).resolve().parent / "out"
GOALS = {("long", False): 1.0, ("short", False): 0.4, ("long", True): 0.5, ("short", True): 0.2}
MEMORY_GOAL_MIB = 300


def warm(path: Path) -> None:
    """Read the file once so that every run reads it from the page cache, not from the disk."""
    with open(path, "rb", buffering=0) as stream:
        while stream.read(64 << 20):
            pass


def _measure(which: str, path: Path, normalised: bool = False) -> dict[str, float]:
    args = [sys.executable, "-m", "bench.measure", which, str(path)] + (["--normalised"] if normalised else [])
    # One core: the goal is per core, and numpy must not spread work over threads.
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    done = subprocess.run(args, check=True, capture_output=True, text=True, env=env)
    result: dict[str, float] = json.loads(done.stdout)
    return result


def main() -> int:
    size = int(float(os.environ.get("BENCH_GB", "1")) * 1e9)
    OUT.mkdir(exist_ok=True)
    files = {"long": (OUT / "long.jsonl", 30_000), "short": (OUT / "short.jsonl", 200)}
    for path, chars in files.values():
        if not path.exists() or abs(path.stat().st_size - size) > 1_000_000:
            print(f"generating {path.name} ({size / 1e9:.1f} GB, ~{chars} chars a line)...", flush=True)
            write_corpus(path, total_bytes=size, line_chars=chars)
    print(f"{'file':6} {'mode':10} {'novacpt GB/s':>12} {'naive GB/s':>11} {'ratio':>6} {'peak MiB':>9} {'goal':>5}")
    failures = []
    naive: dict[str, float] = {}
    for (kind, normalised), goal in GOALS.items():
        path = files[kind][0]
        warm(path)
        gigabytes = path.stat().st_size / 1e9
        ours = _measure("novacpt", path, normalised)
        if kind not in naive:
            naive[kind] = gigabytes / _measure("naive", path)["seconds"]
        speed = gigabytes / ours["seconds"]
        mode = "normalised" if normalised else "exact"
        ok = speed >= goal and (kind != "short" or ours["peak_mib"] <= MEMORY_GOAL_MIB)
        print(
            f"{kind:6} {mode:10} {speed:12.2f} {naive[kind]:11.3f} {speed / naive[kind]:6.1f} "
            f"{ours['peak_mib']:9.0f} {goal:5.1f} {'ok' if ok else 'MISSED'}",
            flush=True,
        )
        if not ok:
            failures.append(f"{kind}/{mode}")
    print("all goals met" if not failures else f"goals missed: {', '.join(failures)}")
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
