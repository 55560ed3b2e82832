"""Exact duplicate detection over per-line text hashes (8 bytes a line)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True, slots=True)
class Duplicates:
    """How many records repeat an earlier one, with the earliest (first line, repeat line) pairs."""

    count: int
    examples: list[tuple[int, int]]


def find_duplicates(line_hashes: npt.NDArray[np.uint64], *, examples: int = 5) -> Duplicates:
    """Duplicates among records; `line_hashes[i]` is line i+1's hash, 0 where the line has no record."""
    valid = np.flatnonzero(line_hashes)
    values = line_hashes if valid.size == line_hashes.size else line_hashes[valid]
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
    group_start = np.flatnonzero(new_group)
    group_first = np.minimum.reduceat(order, group_start)[np.cumsum(new_group) - 1]
    is_repeat = order != group_first
    repeats = order[is_repeat]
    firsts = group_first[is_repeat]
    pick = np.argsort(repeats, kind="stable")[:examples]
    lines = valid if valid.size != line_hashes.size else None
    first_lines = firsts[pick] if lines is None else lines[firsts[pick]]
    repeat_lines = repeats[pick] if lines is None else lines[repeats[pick]]
    return Duplicates(count, list(zip((first_lines + 1).tolist(), (repeat_lines + 1).tolist(), strict=True)))
