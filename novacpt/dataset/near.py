"""Near-duplicate clusters and validation overlap from LSH band keys, one key partition at a time.

Rows are (key, 1-based line). Records that share a key in any band are near copies; a key lands in one
partition only, so the edges found partition by partition are those of the whole file, and merging
them is exact whatever the partitioning.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from novacpt.dataset.sharded import ROW

Rows = npt.NDArray[np.void]
Lines = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Clusters:
    """Groups of near copies: sorted 1-based lines each, ordered by their first line."""

    copies: int  # records in a group after its first: the near copies of an earlier record
    groups: list[list[int]]


def edges(rows: Rows) -> tuple[Lines, Lines]:
    """(first line, other line) pairs of every group of rows with equal keys."""
    if rows.size < 2:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    order = np.lexsort((rows["line"], rows["hash"]))  # by key, then line (a structured sort is many times slower)
    keys, lines = rows["hash"][order], rows["line"][order]
    new = np.empty(keys.size, dtype=bool)
    new[0] = True
    np.not_equal(keys[1:], keys[:-1], out=new[1:])
    first = lines[np.flatnonzero(new)][np.cumsum(new) - 1]
    repeat = ~new
    return first[repeat].astype(np.int64), lines[repeat].astype(np.int64)


def clusters(parts: Iterable[tuple[Lines, Lines]]) -> Clusters:
    """Connected groups of the union of edges (min-label propagation with pointer jumping)."""
    pairs = [(a, b) for a, b in parts if a.size]
    if not pairs:
        return Clusters(0, [])
    a = np.concatenate([p[0] for p in pairs])
    b = np.concatenate([p[1] for p in pairs])
    nodes, index = np.unique(np.concatenate([a, b]), return_inverse=True)
    left, right = index[: a.size], index[a.size :]
    label = np.arange(nodes.size)
    while True:
        low = np.minimum(label[left], label[right])
        new = label.copy()
        np.minimum.at(new, left, low)
        np.minimum.at(new, right, low)
        new = new[new]
        if np.array_equal(new, label):
            break
        label = new
    order = np.argsort(label, kind="stable")  # nodes are sorted, so each group stays sorted
    cuts = np.flatnonzero(np.diff(label[order])) + 1
    groups = [nodes[g].tolist() for g in np.split(order, cuts)]
    groups.sort(key=lambda g: g[0])
    return Clusters(int(nodes.size - len(groups)), groups)


def overlapping(training: Sequence[Rows], validation: Rows) -> Lines:
    """Lines of `validation` rows whose key is among the training rows' keys (one partition)."""
    keys = np.concatenate([r["hash"] for r in training]) if training else np.zeros(0, dtype=np.uint64)
    return np.unique(validation["line"][np.isin(validation["hash"], keys)]).astype(np.int64)


def rows(keys: npt.NDArray[np.uint64], lines: Lines) -> Rows:
    """(key, line) rows of the nonzero keys; `keys[i]` belongs to `lines[i]` (a 2-D `keys` holds bands)."""
    if keys.ndim == 2:
        lines = np.repeat(lines, keys.shape[1])
        keys = keys.reshape(-1)
    keep = keys != 0
    out = np.empty(int(np.count_nonzero(keep)), dtype=ROW)
    out["hash"], out["line"] = keys[keep], lines[keep]
    return out
