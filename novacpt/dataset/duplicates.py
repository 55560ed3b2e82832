"""Exact duplicate detection over text hashes (8 bytes a line), whole-file or one hash partition at a time."""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

EXAMPLES = 5


@dataclass(frozen=True, slots=True)
class Duplicates:
    """How many records repeat an earlier one, with the earliest (first line, repeat line) pairs."""

    count: int
    examples: list[tuple[int, int]]


def find_duplicates(line_hashes: npt.NDArray[np.uint64], *, examples: int = EXAMPLES) -> Duplicates:
    """Duplicates among records; `line_hashes[i]` is line i+1's hash, 0 where the line has no record."""
    valid = np.flatnonzero(line_hashes)
    values = line_hashes if valid.size == line_hashes.size else line_hashes[valid]
    return duplicates_among(values, valid + 1, examples=examples)


def duplicates_among(
    values: npt.NDArray[np.uint64], lines: npt.NDArray[np.int64], *, examples: int = EXAMPLES
) -> Duplicates:
    """Duplicates among records with hashes `values` on ascending 1-based `lines`."""
    ordered = np.sort(values)
    count = int(np.count_nonzero(ordered[1:] == ordered[:-1]))
    del ordered
    if count == 0:
        return Duplicates(0, [])
    # Only when there are duplicates: group equal hashes and name the earliest repeats.
    order = np.argsort(values)
    ordered = values[order]
    new_group = np.empty(ordered.size, dtype=bool)
    new_group[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=new_group[1:])
    del ordered
    group_first = np.minimum.reduceat(order, np.flatnonzero(new_group))[np.cumsum(new_group) - 1]
    is_repeat = order != group_first
    repeats = order[is_repeat]
    firsts = group_first[is_repeat]
    pick = np.argsort(repeats, kind="stable")[:examples]
    pairs = zip(lines[firsts[pick]].tolist(), lines[repeats[pick]].tolist(), strict=True)
    return Duplicates(count, list(pairs))


def combine(parts: Iterable[Duplicates], *, examples: int = EXAMPLES) -> Duplicates:
    """Duplicates of a file from those of disjoint hash partitions (equal texts share a partition)."""
    parts = list(parts)
    earliest = heapq.nsmallest(examples, (pair for part in parts for pair in part.examples), key=lambda p: p[1])
    return Duplicates(sum(part.count for part in parts), earliest)
