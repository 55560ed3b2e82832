"""Run one validator over one file in this process; print its CPU seconds and peak memory as JSON.

Run as a child process (`python -m bench.measure ...`) so that peak RSS belongs to one run. CPU time
(user + system, getrusage) is taken around the validation only, so start-up and imports are left out.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
from pathlib import Path

import orjson
from pydantic import BaseModel, ConfigDict, field_validator

from novacpt.dataset import DatasetOptions, validate_path


class SdkSample(BaseModel):
    """The per-line model a straightforward validator uses (as AWS's Nova SDK does)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    text: str

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("empty text")
        return value


def sdk_validate(path: Path) -> int:
    """The SDK-style validator: stdlib json.loads plus a pydantic model per line; returns bad lines."""
    bad = 0
    with open(path, "rb") as stream:
        for line in stream:
            try:
                SdkSample.model_validate(json.loads(line))
            except ValueError:
                bad += 1
    return bad


def orjson_validate(path: Path) -> int:
    """The five-line loop: orjson per line, `text` the only key and a non-blank str; returns bad lines."""
    bad = 0
    with open(path, "rb") as stream:
        for line in stream:
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError:
                bad += 1
                continue
            text = record.get("text") if type(record) is dict and len(record) == 1 else None
            if type(text) is not str or not text.strip():
                bad += 1
    return bad


def _peak_rss_mib() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss it does not carry the parent's over exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("which", choices=["cpt", "sdk", "orjson"])
    parser.add_argument("path", type=Path)
    parser.add_argument("--normalised", action="store_true")
    args = parser.parse_args()
    start = _cpu_seconds()
    if args.which == "cpt":
        ok = validate_path(args.path, DatasetOptions(normalised_duplicates=args.normalised)).valid
    elif args.which == "sdk":
        ok = sdk_validate(args.path) == 0
    else:
        ok = orjson_validate(args.path) == 0
    seconds = _cpu_seconds() - start
    json.dump({"cpu_seconds": seconds, "valid": ok, "peak_mib": _peak_rss_mib()}, sys.stdout)


if __name__ == "__main__":
    main()
