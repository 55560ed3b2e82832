"""`make bench`: the dataset validator against two references, on the same files, in the same run.

The references: the SDK-style validator (stdlib json.loads plus a pydantic model per line, as AWS's
Nova SDK validates) and the orjson loop (orjson.loads per line, `text` the only key, a non-blank
str). Every shape of bench/corpus.py is measured in CPU seconds (user + system of the validating
child, start-up left out), BENCH_REPEAT times (default 3, the validators' runs interleaved), and
the median is kept.

Goals, per shape, one core, exact duplicates: >= 1.0x the orjson loop; >= 1.5x the SDK-style
validator on long-line shapes and >= 5x on short-line shapes; peak memory <= 300 MiB on 1 GB of
short lines (measured on a file of BENCH_MEMORY_GB of `en_short`, default 1). The normalised mode is
printed beside. BENCH_GB sets the size of each shape's file (default 0.1).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.corpus import SHAPES, Shape, write_shape

OUT = Path(__file__).resolve().parent / "out"
ORJSON_GOAL = 1.0
SDK_GOAL = {True: 1.5, False: 5.0}  # by Shape.long
MEMORY_GOAL_MIB = 300


def warm(path: Path) -> None:
    """Read the file once so that every run reads it from the page cache, not from the disk."""
    with open(path, "rb", buffering=0) as stream:
        while stream.read(64 << 20):
            pass


def measure(which: str, path: Path, normalised: bool = False) -> dict[str, float]:
    """One run of one validator in a child process: CPU seconds, peak MiB, verdict."""
    args = [sys.executable, "-m", "bench.measure", which, str(path)] + (["--normalised"] if normalised else [])
    # One core: the goal is per core, and numpy must not spread work over threads.
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    done = subprocess.run(args, check=True, capture_output=True, text=True, env=env)
    result: dict[str, float] = json.loads(done.stdout)
    return result


def median_runs(path: Path, repeat: int) -> dict[str, dict[str, float]]:
    """Each validator's median CPU seconds (and largest peak memory) of `repeat` runs on one file.

    The runs are interleaved (SDK, orjson, cpt, cpt normalised, then again), so that the load of a
    shared machine, which changes over minutes, weighs on every validator alike.
    """
    kinds = {"sdk": ("sdk", False), "orjson": ("orjson", False), "exact": ("cpt", False), "normalised": ("cpt", True)}
    runs: dict[str, list[dict[str, float]]] = {kind: [] for kind in kinds}
    for _ in range(repeat):
        for kind, (which, normalised) in kinds.items():
            runs[kind].append(measure(which, path, normalised))
    if not all(run["valid"] for kind in runs.values() for run in kind):
        raise SystemExit(f"a validator called {path.name} invalid: the corpus generator is broken")
    return {
        kind: {
            "cpu_seconds": statistics.median(run["cpu_seconds"] for run in done),
            "peak_mib": max(run["peak_mib"] for run in done),
        }
        for kind, done in runs.items()
    }


def corpus(shape: Shape, size: int) -> Path:
    """The shape's file of about `size` bytes, generated once (deterministic) and kept in bench/out."""
    OUT.mkdir(exist_ok=True)
    path = OUT / f"{shape.name}-{size}.jsonl"
    if not path.exists():
        print(f"generating {path.name} ...", flush=True)
        partial = path.with_suffix(".part")
        write_shape(partial, shape, total_bytes=size)
        partial.rename(path)
    return path


def main() -> int:
    size = int(float(os.environ.get("BENCH_GB", "0.1")) * 1e9)
    repeat = int(os.environ.get("BENCH_REPEAT", "3"))
    memory_size = int(float(os.environ.get("BENCH_MEMORY_GB", "1")) * 1e9)
    print(
        f"dataset validation, {time.strftime('%Y-%m-%d')}, {os.cpu_count()}-core {platform.machine()}, "
        f"{size / 1e9:g} GB a shape, median CPU seconds of {repeat} runs, one core",
        flush=True,
    )
    header = (
        f"{'shape':17} {'mode':10} {'cpt GB/s':>8} {'SDK GB/s':>8} {'orjson GB/s':>11} "
        f"{'/SDK':>5} {'/orjson':>7} {'peak MiB':>8}  verdict"
    )
    print(header, flush=True)
    missed: list[str] = []
    for shape in SHAPES.values():
        path = corpus(shape, size)
        warm(path)
        gigabytes = path.stat().st_size / 1e9
        medians = median_runs(path, repeat)
        sdk = gigabytes / medians["sdk"]["cpu_seconds"]
        fast = gigabytes / medians["orjson"]["cpu_seconds"]
        for normalised in (False, True):
            ours = medians["normalised" if normalised else "exact"]
            speed = gigabytes / ours["cpu_seconds"]
            verdict = "(not a goal)"
            if not normalised:
                goals = [(speed / fast >= ORJSON_GOAL, f">={ORJSON_GOAL:g}x orjson")]
                goals.append((speed / sdk >= SDK_GOAL[shape.long], f">={SDK_GOAL[shape.long]:g}x SDK"))
                failed = [name for ok, name in goals if not ok]
                verdict = "ok" if not failed else "MISSED " + ", ".join(failed)
                if failed:
                    missed.append(f"{shape.name} ({', '.join(failed)})")
            print(
                f"{shape.name:17} {'normalised' if normalised else 'exact':10} {speed:8.2f} {sdk:8.2f} {fast:11.2f} "
                f"{speed / sdk:5.1f} {speed / fast:7.2f} {ours['peak_mib']:8.0f}  {verdict}",
                flush=True,
            )
    memory_path = corpus(SHAPES["en_short"], memory_size)
    peak = measure("cpt", memory_path)["peak_mib"]
    ok = peak <= MEMORY_GOAL_MIB
    print(
        f"peak memory on {memory_size / 1e9:g} GB of short lines: {peak:.0f} MiB (goal <= {MEMORY_GOAL_MIB}) "
        f"{'ok' if ok else 'MISSED'}"
    )
    if not ok:
        missed.append("memory")
    print("all goals met" if not missed else f"goals missed: {'; '.join(missed)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
