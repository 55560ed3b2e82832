"""The Lambda asset's unzipped size and each handler's cold-start import time (`python -m bench.lambda_asset`).

The asset is bundled exactly as synthesis bundles it (stacks.shared.bundling) into a temporary folder.
Cold start: each handler module imported in a fresh interpreter (this machine's Python, with the
project's dependencies), median of RUNS, wall clock and CPU time; the Lambda runtime adds its own
start-up on top.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from stacks.pipeline.functions import SPECS
from stacks.shared.bundling import ROOT, _LocalBundler

RUNS = 7
_IMPORT = (
    "import importlib, sys, time; t, c = time.perf_counter(), time.process_time(); "
    "importlib.import_module(sys.argv[1]); print(time.perf_counter() - t, time.process_time() - c)"
)


def asset_bytes() -> int:
    """Bytes of every file of a freshly bundled asset."""
    with tempfile.TemporaryDirectory(prefix="lambda-asset-") as folder:
        _LocalBundler().try_bundle(folder, image=None)  # type: ignore[arg-type]
        return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file())


def import_ms(module: str, runs: int = RUNS) -> tuple[float, float]:
    """Median milliseconds to import `module` in a fresh interpreter (its bytecode cached by a first run):
    wall clock, and CPU time (less disturbed when other work shares the machine)."""
    env = {**os.environ, "POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_SERVICE_NAME": "bench"}
    command = [sys.executable, "-c", _IMPORT, module]
    subprocess.run(command, env=env, cwd=ROOT, capture_output=True, check=True)
    samples = [
        subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
        for _ in range(runs)
    ]
    wall, cpu = (round(statistics.median(float(s[i]) for s in samples) * 1000) for i in (0, 1))
    return wall, cpu


def main() -> None:
    modules = sorted({spec.handler.rpartition(".")[0] for spec in SPECS.values()})
    times = {m: import_ms(m) for m in modules}
    result = {
        "asset_mb": round(asset_bytes() / 1e6, 1),
        "cold_import_ms": {m: wall for m, (wall, _) in times.items()},
        "cold_import_cpu_ms": {m: cpu for m, (_, cpu) in times.items()},
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
