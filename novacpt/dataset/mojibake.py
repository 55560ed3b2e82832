"""Mojibake (text decoded with the wrong encoding), by ftfy's own detector, ftfy.badness.is_bad.

ftfy's pattern is searched only in windows around the characters it can match: every one of its
alternatives needs a non-ASCII character that the pattern names, and a match is at most WIDTH
characters long. An alternative that needs two or more non-ASCII characters can only match where one
of its characters has another non-ASCII character less than WIDTH away, so a lone accented letter or
typographic quote in ASCII text (`café`, `“quoted”`) is not searched at all. These facts are read from
the pattern itself at import, so the answer is exactly is_bad's; when they cannot be established, the
whole text is searched.
"""

from __future__ import annotations

import re._parser as sre  # type: ignore[import-not-found,unused-ignore]
from collections.abc import Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt
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


def _triggers() -> tuple[frozenset[str], frozenset[str], int] | None:
    """(characters one of which every match holds, those of alternatives with one non-ASCII character,
    longest match), or None when not established."""
    parsed = sre.parse(BADNESS_RE.pattern, BADNESS_RE.flags)
    width = parsed.getwidth()[1]
    if len(parsed.data) != 1 or parsed.data[0][0] is not _BRANCH or width >= sre.MAXREPEAT:
        return None
    triggers: set[str] = set()
    alone: set[str] = set()
    for branch in parsed.data[0][1][1]:
        needed: list[set[str]] = [c for op, av in branch.data if (c := _chars(op, av)) and all(ord(x) > 127 for x in c)]
        if not needed:
            return None
        chosen: set[str] = min(needed, key=len)
        triggers.update(chosen)
        if len(needed) == 1:  # each needed item is one character of the match: one non-ASCII character may do
            alone.update(chosen)
    return frozenset(triggers), frozenset(alone), width


_FOUND: Final = _triggers()
WIDTH: Final = _FOUND[2] if _FOUND else 0
_PLANE: Final = 0x10000  # every trigger is in the Basic Multilingual Plane
_TRIGGERS: Final = np.zeros(_PLANE, dtype=bool)
_ALONE: Final = np.zeros(_PLANE, dtype=bool)
if _FOUND and all(ord(c) < _PLANE for c in _FOUND[0]):
    _TRIGGERS[[ord(c) for c in _FOUND[0]]] = True
    _ALONE[[ord(c) for c in _FOUND[1]]] = True
    _CODES = sorted(ord(c) for c in _FOUND[0])
    _GAP = max(range(len(_CODES) - 1), key=lambda i: _CODES[i + 1] - _CODES[i])
    # every trigger is in [_LOW, _GAP_LOW] or [_GAP_HIGH, _HIGH]: a cheap first test (CJK text falls in the gap)
    _LOW, _GAP_LOW, _GAP_HIGH, _HIGH = _CODES[0], _CODES[_GAP], _CODES[_GAP + 1], _CODES[-1]
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


def _hits(points: npt.NDArray[np.uint32]) -> npt.NDArray[np.intp]:
    """Positions of the trigger characters that a match may hold: each one of an alternative with one
    non-ASCII character, or one with another non-ASCII character less than WIDTH away."""
    maybe = (points >= _LOW) & (points <= _HIGH)
    maybe &= (points <= _GAP_LOW) | (points >= _GAP_HIGH)
    at = np.flatnonzero(maybe)
    at = at[_TRIGGERS[points[at]]]
    if not at.size:
        return at
    near = _ALONE[points[at]]
    last = points.size - 1
    for distance in range(1, WIDTH):
        near |= points[np.maximum(at - distance, 0)] >= 0x80  # at 0 this is the hit itself: searched, still exact
        near |= points[np.minimum(at + distance, last)] >= 0x80
    return at[near]


def mojibake_in(texts: Sequence[str]) -> list[int]:
    """Indices of the texts that ftfy.badness.is_bad calls mojibake (the same answer, computed faster)."""
    if _FOUND is None:  # pragma: no cover
        return [i for i, text in enumerate(texts) if BADNESS_RE.search(text)]
    points = np.frombuffer("".join(texts).encode("utf-32-le"), dtype=np.uint32)
    hits = _hits(points)
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
