"""The Lambda asset's unzipped size and each handler's cold-start import time (`python -m bench.lambda_asset`).

The asset is bundled exactly as synthesis bundles it (stacks.shared.bundling) into a temporary folder.
Cold start: each handler module imported in a fresh interpreter (this machine's Python, with the
project's dependencies), median of RUNS; the Lambda runtime adds its own start-up on top.
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
    "import importlib, sys, time; t = time.perf_counter(); importlib.import_module(sys.argv[1]); "
    "print(time.perf_counter() - t)"
)


def asset_bytes() -> int:
    """Bytes of every file of a freshly bundled asset."""
    with tempfile.TemporaryDirectory(prefix="lambda-asset-") as folder:
        _LocalBundler().try_bundle(folder, image=None)  # type: ignore[arg-type]
        return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file())


def import_ms(module: str, runs: int = RUNS) -> float:
    """Median milliseconds to import `module` in a fresh interpreter (its bytecode cached by a first run)."""
    env = {**os.environ, "POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_SERVICE_NAME": "bench"}
    command = [sys.executable, "-c", _IMPORT, module]
    subprocess.run(command, env=env, cwd=ROOT, capture_output=True, check=True)
    times = [
        float(subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, check=True).stdout)
        for _ in range(runs)
    ]
    return round(statistics.median(times) * 1000)


def main() -> None:
    modules = sorted({spec.handler.rpartition(".")[0] for spec in SPECS.values()})
    result = {"asset_mb": round(asset_bytes() / 1e6, 1), "cold_import_ms": {m: import_ms(m) for m in modules}}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
