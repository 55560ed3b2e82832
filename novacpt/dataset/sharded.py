"""What one shard's scan leaves behind for the merge: a small summary and its hashes by partition.

Equal texts have equal hashes, so they land in the same partition: duplicates are counted one
partition at a time, in memory proportional to the file's lines divided by the partition count.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from novacpt.dataset.codes import ErrorCode
from novacpt.dataset.duplicates import Duplicates, duplicates_among
from novacpt.dataset.lengths import TokenHistogram
from novacpt.dataset.report import DatasetError
from novacpt.dataset.scan import ScanResult

# One row a record: its text hash and its 0-based line within the shard.
ROW = np.dtype([("hash", "<u8"), ("line", "<i8")])
_COUNTS = ("lines", "records", "bytes", "characters", "text_bytes")


def summary_of(scan: ScanResult) -> dict[str, Any]:
    """The JSON-able part of a shard's scan (everything but the hashes)."""
    nonzero = np.flatnonzero(scan.lengths.counts)
    return {
        **{name: getattr(scan, name) for name in _COUNTS},
        "errors": [e.to_dict() for e in scan.errors],
        "error_counts": dict(scan.error_counts),
        "lengths": [[int(t), int(scan.lengths.counts[t])] for t in nonzero],
    }


def scan_of(summary: dict[str, Any]) -> ScanResult:
    """A scan rebuilt from its summary, for build_report (its hashes are merged separately)."""
    scan = ScanResult()
    for name in _COUNTS:
        setattr(scan, name, int(summary[name]))
    scan.errors = [DatasetError(e["line"], ErrorCode(e["code"]), e["message"]) for e in summary["errors"]]
    scan.error_counts = dict(summary["error_counts"])
    lengths = TokenHistogram()
    if summary["lengths"]:
        tokens, counts = np.array(summary["lengths"], dtype=np.int64).T
        dense = np.zeros(int(tokens.max()) + 1, dtype=np.int64)
        dense[tokens] = counts
        lengths.merge_counts(dense)
    scan.lengths = lengths
    return scan


def partition(line_hashes: Sequence[npt.NDArray[np.uint64]], partitions: int) -> list[npt.NDArray[np.void]]:
    """A shard's (hash, line) rows split by `hash % partitions` (lines without a record left out).

    Built block by block, so memory peaks at the rows (16 bytes a record) plus one block's temporaries.
    """
    parts: list[list[npt.NDArray[np.void]]] = [[] for _ in range(partitions)]
    offset = 0
    for block in line_hashes:
        lines = np.flatnonzero(block)
        hashes = block[lines]
        key = hashes % np.uint64(partitions)
        for p, part in enumerate(parts):
            mine = key == p
            rows = np.empty(int(np.count_nonzero(mine)), dtype=ROW)
            rows["hash"] = hashes[mine]
            rows["line"] = lines[mine] + offset
            part.append(rows)
        offset += block.size
    return [np.concatenate(part) if part else np.zeros(0, dtype=ROW) for part in parts]


def partition_duplicates(shards: Sequence[tuple[int, npt.NDArray[np.void]]]) -> Duplicates:
    """Duplicates within one partition; `shards` are (first line of the shard - 1, its rows), in file order."""
    if not shards:
        return Duplicates(0, [])
    values = np.concatenate([rows["hash"] for _, rows in shards])
    lines = np.concatenate([rows["line"] + offset + 1 for offset, rows in shards])
    return duplicates_among(values, lines)
