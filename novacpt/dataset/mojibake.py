"""Mojibake (text decoded with the wrong encoding), by ftfy's own detector, ftfy.badness.is_bad.

ftfy's pattern is searched only in windows around the characters it can match: every one of its
alternatives needs a non-ASCII character that the pattern names, and a match is at most WIDTH
characters long. Both facts are read from the pattern itself at import, so the answer is exactly
is_bad's; when they cannot be established, the whole text is searched.
"""

from __future__ import annotations

import re._parser as sre  # type: ignore[import-not-found,unused-ignore]
from collections.abc import Sequence
from typing import Any, Final

import numpy as np
from ftfy.badness import BADNESS_RE

_LITERAL, _IN, _RANGE, _NEGATE, _BRANCH = sre.LITERAL, sre.IN, sre.RANGE, sre.NEGATE, sre.BRANCH


def _chars(op: Any, av: Any) -> set[str] | None:
    """The characters one item matches, when it is a plain literal or positive class (else None)."""
    if op is _LITERAL:
        return {chr(av)}
    if op is _IN and all(item_op is not _NEGATE for item_op, _ in av):
        found: set[str] = set()
        for item_op, item in av:
            if item_op is _LITERAL:
                found.add(chr(item))
            elif item_op is _RANGE:
                found.update(chr(c) for c in range(item[0], item[1] + 1))
            else:  # a category (\s, \w): not a plain class
                return None
        return found
    return None


def _triggers() -> tuple[frozenset[str], int] | None:
    """(characters one of which every match holds, longest match), or None when not established."""
    parsed = sre.parse(BADNESS_RE.pattern, BADNESS_RE.flags)
    width = parsed.getwidth()[1]
    if len(parsed.data) != 1 or parsed.data[0][0] is not _BRANCH or width >= sre.MAXREPEAT:
        return None
    triggers: set[str] = set()
    for branch in parsed.data[0][1][1]:
        needed: list[set[str]] = [c for op, av in branch.data if (c := _chars(op, av)) and all(ord(x) > 127 for x in c)]
        if not needed:
            return None
        chosen: set[str] = min(needed, key=len)
        triggers.update(chosen)
    return frozenset(triggers), width


_FOUND: Final = _triggers()
WIDTH: Final = _FOUND[1] if _FOUND else 0
_TRIGGERS: Final = np.zeros(0x10000, dtype=bool)  # every trigger is in the Basic Multilingual Plane
if _FOUND and all(ord(c) < 0x10000 for c in _FOUND[0]):
    _TRIGGERS[[ord(c) for c in _FOUND[0]]] = True
else:  # pragma: no cover - a future ftfy whose pattern this module cannot read: search everything
    _FOUND = None  # type: ignore[misc]


def _search(text: str, hits: Sequence[int]) -> bool:
    """is_bad(text), given the sorted positions of its trigger characters."""
    start = end = -1  # the window [start, end) that holds every match around the hits so far
    for at in hits:
        if at - WIDTH + 1 > end:  # a window apart from the last: search the last one
            if end > 0 and BADNESS_RE.search(text, start, end):
                return True
            start = max(at - WIDTH + 1, 0)
        end = at + WIDTH
    return end > 0 and bool(BADNESS_RE.search(text, start, end))


def mojibake_in(texts: Sequence[str]) -> list[int]:
    """Indices of the texts that ftfy.badness.is_bad calls mojibake (the same answer, computed faster)."""
    if _FOUND is None:  # pragma: no cover
        return [i for i, text in enumerate(texts) if BADNESS_RE.search(text)]
    points = np.frombuffer("".join(texts).encode("utf-32-le"), dtype=np.uint32)
    wide = np.flatnonzero(points >= 0x80)
    hits = wide[_TRIGGERS[np.minimum(points[wide], 0xFFFF)]]
    if not hits.size:
        return []
    starts = np.cumsum([0, *(len(t) for t in texts)])
    owner = np.searchsorted(starts, hits, side="right") - 1
    cuts = np.flatnonzero(owner[1:] != owner[:-1]) + 1
    records = owner[np.concatenate([[0], cuts])].tolist()
    return [
        record
        for record, mine in zip(records, np.split(hits, cuts), strict=True)
        if _search(texts[record], (mine - starts[record]).tolist())
    ]


def is_mojibake(text: str) -> bool:
    """ftfy.badness.is_bad(text)."""
    return bool(mojibake_in([text]))
