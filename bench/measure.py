"""Run one validator over one file in this process and print seconds and peak memory as JSON.

Run as a child process (`python -m bench.measure ...`) so that peak RSS belongs to one run.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

from pydantic import BaseModel, ConfigDict, field_validator

from novacpt.dataset import DatasetOptions, validate_path


class NaiveSample(BaseModel):
    """The per-line model a straightforward validator uses (as AWS's Nova SDK does)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    text: str

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("empty text")
        return value


def naive_validate(path: Path) -> int:
    """stdlib json.loads plus a pydantic model per line; returns the number of bad lines."""
    bad = 0
    with open(path, "rb") as stream:
        for line in stream:
            try:
                NaiveSample.model_validate(json.loads(line))
            except ValueError:
                bad += 1
    return bad


def _peak_rss_mib() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss it does not carry the parent's over exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("which", choices=["novacpt", "naive"])
    parser.add_argument("path", type=Path)
    parser.add_argument("--normalised", action="store_true")
    args = parser.parse_args()
    start = time.perf_counter()
    if args.which == "novacpt":
        report = validate_path(args.path, DatasetOptions(normalised_duplicates=args.normalised))
        ok = report.valid
    else:
        ok = naive_validate(args.path) == 0
    seconds = time.perf_counter() - start
    peak_mib = _peak_rss_mib()
    json.dump({"seconds": seconds, "valid": ok, "peak_mib": peak_mib}, sys.stdout)


if __name__ == "__main__":
    main()
