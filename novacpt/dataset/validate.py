"""Public entry points: validate a dataset stream or file and build the final report."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from novacpt.dataset.codes import ErrorCode, WarningCode
from novacpt.dataset.duplicates import Duplicates, find_duplicates
from novacpt.dataset.lengths import TOKEN_ESTIMATE, TokenHistogram
from novacpt.dataset.report import MAX_KEPT_ERRORS, DatasetError, DatasetReport, DatasetWarning
from novacpt.dataset.scan import CHUNK_BYTES, Readable, ScanResult, scan_stream

DUPLICATE_RATE_LIMIT = 0.01
MIN_OPTIMIZER_STEPS = 100


@dataclass(frozen=True, slots=True)
class DatasetOptions:
    """What to check beyond the format: near-duplicates, and the recipe's limits when known."""

    normalised_duplicates: bool = False
    max_length: int | None = None
    global_batch_size: int | None = None
    max_epochs: int | None = None
    chunk_bytes: int = CHUNK_BYTES


def validate_stream(stream: Readable, name: str, options: DatasetOptions | None = None) -> DatasetReport:
    """Validate a whole JSONL dataset read from a binary stream (a file or an S3 body)."""
    opts = options or DatasetOptions()
    scan = scan_stream(stream, normalised=opts.normalised_duplicates, chunk_bytes=opts.chunk_bytes)
    return build_report(name, [scan], opts)


def validate_path(path: str | Path, options: DatasetOptions | None = None) -> DatasetReport:
    """Validate a local file; OSError propagates (the caller reports it as an I/O error)."""
    with open(path, "rb", buffering=0) as stream:
        return validate_stream(stream, Path(path).name, options)


def build_report(
    name: str,
    scans: Sequence[ScanResult],
    options: DatasetOptions,
    duplicates: tuple[Duplicates, Duplicates | None] | None = None,
) -> DatasetReport:
    """Merge the scans of consecutive parts of one file (in order) into its report.

    `duplicates` (exact, normalised) replaces counting from the scans' hashes, for shards whose
    hashes were merged partition by partition elsewhere.
    """
    report = DatasetReport(name=name)
    if not name.endswith(".jsonl"):
        report.add_error(
            DatasetError(None, ErrorCode.BAD_EXTENSION, f'"{name}": a dataset file name must end in .jsonl')
        )
    total = ScanResult()
    total.bytes = sum(scan.bytes for scan in scans)
    lengths = TokenHistogram()
    offset = 0
    not_jsonl = bool(scans) and ErrorCode.NOT_JSONL in scans[0].error_counts
    if not_jsonl:  # the file is no JSONL at all: one error says so, the line rules say nothing
        scans, duplicates = scans[:1], (Duplicates(0, []), Duplicates(0, []) if options.normalised_duplicates else None)
    for scan in scans:
        room = MAX_KEPT_ERRORS - len(report.errors)
        report.errors.extend(
            DatasetError(None if e.line is None else e.line + offset, e.code, e.message) for e in scan.errors[:room]
        )
        for code, count in scan.error_counts.items():
            report.error_counts[code] = report.error_counts.get(code, 0) + count
        for attr in ("lines", "records", "characters", "text_bytes"):
            setattr(total, attr, getattr(total, attr) + getattr(scan, attr))
        lengths.merge(scan.lengths)
        offset += scan.lines
    if total.bytes == 0:
        report.add_error(
            DatasetError(None, ErrorCode.EMPTY_FILE, "the file is empty: a dataset needs at least one record")
        )
    if duplicates is not None:
        exact, normalised = duplicates
    else:
        exact = find_duplicates(_concat([h for s in scans for h in s.hashes]))
        normalised = None
        if options.normalised_duplicates:
            normalised = find_duplicates(_concat([h for s in scans for h in s.norm_hashes or []]))
    report.stats = _stats(total, lengths, exact, normalised, options)
    report.warnings = _warnings(total.records, lengths, exact, normalised, options)
    return report


def _concat(parts: list[np.ndarray[Any, np.dtype[np.uint64]]]) -> np.ndarray[Any, np.dtype[np.uint64]]:
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint64)


def _dupes_json(d: Duplicates, records: int) -> dict[str, Any]:
    return {
        "count": d.count,
        "rate": round(d.count / records, 6) if records else 0.0,
        "examples": [{"first_line": a, "duplicate_line": b} for a, b in d.examples],
    }


def _stats(
    total: ScanResult,
    lengths: TokenHistogram,
    exact: Duplicates,
    normalised: Duplicates | None,
    options: DatasetOptions,
) -> dict[str, Any]:
    return {
        "lines": total.lines,
        "records": total.records,
        "bytes": total.bytes,
        "characters": total.characters,
        "text_bytes": total.text_bytes,
        "estimated_tokens": lengths.total_tokens(),
        "token_estimate": TOKEN_ESTIMATE,
        "length_tokens": lengths.percentiles(),
        "length_histogram": lengths.buckets(),
        "exact_duplicates": _dupes_json(exact, total.records),
        "normalised_duplicates": None if normalised is None else _dupes_json(normalised, total.records),
        "max_length": options.max_length,
        "records_over_max_length": None if options.max_length is None else lengths.count_over(options.max_length),
    }


def _warnings(
    records: int, lengths: TokenHistogram, exact: Duplicates, normalised: Duplicates | None, options: DatasetOptions
) -> list[DatasetWarning]:
    found = []
    # With --normalised the rate counts near-duplicates too (every exact duplicate is one of them).
    repeats, how = (exact, "") if normalised is None else (normalised, " after normalisation")
    if records and repeats.count / records > DUPLICATE_RATE_LIMIT:
        found.append(
            DatasetWarning(
                WarningCode.DUPLICATE_RATE,
                f"{repeats.count} of {records} records ({repeats.count / records:.1%}) repeat an earlier record{how} "
                f"(over {DUPLICATE_RATE_LIMIT:.0%}): deduplicate to avoid overfitting",
            )
        )
    if options.max_length is not None and (over := lengths.count_over(options.max_length)):
        found.append(
            DatasetWarning(
                WarningCode.RECORDS_TOO_LONG,
                f"{over} records are longer than max_length {options.max_length} (estimated tokens): "
                "they will be truncated",
            )
        )
    if options.global_batch_size and options.max_epochs and records:
        steps = records * options.max_epochs // options.global_batch_size
        if steps < MIN_OPTIMIZER_STEPS:
            found.append(
                DatasetWarning(
                    WarningCode.FEW_RECORDS,
                    f"{records} records x {options.max_epochs} epochs / global_batch_size "
                    f"{options.global_batch_size} = {steps} optimizer steps (fewer than {MIN_OPTIMIZER_STEPS}): "
                    "add data rather than epochs",
                )
            )
    return found
