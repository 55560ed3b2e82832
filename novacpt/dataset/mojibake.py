"""Mojibake (text decoded with the wrong encoding), by ftfy's own detector, ftfy.badness.is_bad.

ftfy's pattern is searched only in windows around the characters it can match: every one of its
alternatives needs a non-ASCII character that the pattern names, and a match is at most WIDTH
characters long. An alternative that needs two or more non-ASCII characters has another one at most
NEAR characters from the named one (NEAR is 1 in ftfy 6.3: they are neighbours), so a lone accented
letter or typographic quote (`café`, `résumé`, `“quoted”`) is not searched at all. These facts are
read from the pattern itself at import, so the answer is exactly is_bad's; when they cannot be
established, the whole text is searched.
"""

from __future__ import annotations

import re._parser as sre  # type: ignore[import-not-found,unused-ignore]
from collections.abc import Sequence
from typing import Any, Final, NamedTuple

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


class _Found(NamedTuple):
    triggers: frozenset[str]  # one of these is in every match
    alone: frozenset[str]  # those of alternatives that need one non-ASCII character only
    width: int  # the longest match
    near: int  # in other alternatives, another non-ASCII character is at most this far from the trigger


def _triggers() -> _Found | None:
    """What every match holds, read from the pattern, or None when not established."""
    parsed = sre.parse(BADNESS_RE.pattern, BADNESS_RE.flags)
    width = parsed.getwidth()[1]
    if len(parsed.data) != 1 or parsed.data[0][0] is not _BRANCH or width >= sre.MAXREPEAT:
        return None
    triggers: set[str] = set()
    alone: set[str] = set()
    near = 1
    for branch in parsed.data[0][1][1]:
        items = list(branch.data)
        # each needed item is one non-ASCII character of the match, at the position of the item
        needed = {k: c for k, (op, av) in enumerate(items) if (c := _chars(op, av)) and all(ord(x) > 127 for x in c)}
        if not needed:
            return None
        chosen = min(needed, key=lambda k: len(needed[k]))
        triggers.update(needed[chosen])
        if len(needed) == 1:
            alone.update(needed[chosen])
            continue
        widths = [sre.SubPattern(branch.state, [item]).getwidth()[1] for item in items]
        apart = min(1 + sum(widths[min(k, chosen) + 1 : max(k, chosen)]) for k in needed if k != chosen)
        near = max(near, min(apart, width - 1))
    return _Found(frozenset(triggers), frozenset(alone), width, near)


_FOUND: Final = _triggers()
WIDTH: Final = _FOUND.width if _FOUND else 0
NEAR: Final = _FOUND.near if _FOUND else 0
_PLANE: Final = 0x10000  # every trigger is in the Basic Multilingual Plane
_TRIGGERS: Final = np.zeros(_PLANE, dtype=bool)
_ALONE: Final = np.zeros(_PLANE, dtype=bool)
if _FOUND and all(ord(c) < _PLANE for c in _FOUND.triggers):
    _TRIGGERS[[ord(c) for c in _FOUND.triggers]] = True
    _ALONE[[ord(c) for c in _FOUND.alone]] = True
    _LEADS = sorted({c.encode("utf-8")[0] for c in _FOUND.triggers})  # the first UTF-8 byte of each trigger
    _CUTS = sorted(sorted(range(1, len(_LEADS)), key=lambda i: _LEADS[i - 1] - _LEADS[i])[:2])
    # every trigger starts with a byte in one of these ranges (the leads split at their two widest gaps,
    # where the first bytes of CJK characters fall): a cheap first test
    _RANGES = [(int(part[0]), int(part[-1])) for part in np.split(np.asarray(_LEADS), _CUTS)]
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


def _lead(raw: npt.NDArray[np.uint8]) -> npt.NDArray[np.bool_]:
    """Which bytes may start a trigger character."""
    maybe = np.zeros(raw.size, dtype=bool)
    for low, high in _RANGES:
        maybe |= (raw >= low) & (raw <= high) if low < high else raw == low
    return maybe


def _hits(data: bytes) -> npt.NDArray[np.intp]:
    """Byte offsets in `data` (UTF-8, NEAR + 2 zero bytes before and after) of the
    trigger characters a match may hold: one of an alternative with one non-ASCII character, or one with
    another non-ASCII character at most NEAR characters away."""
    raw = np.frombuffer(data, dtype=np.uint8)
    at = np.flatnonzero(_lead(raw))
    first, second, third = (raw[at + i].astype(np.intp) for i in range(3))
    three = first >= 0xE0  # every trigger takes two or three bytes
    point = np.where(
        three, (first & 0x0F) << 12 | (second & 0x3F) << 6 | (third & 0x3F), (first & 0x1F) << 6 | (second & 0x3F)
    )
    found = _TRIGGERS[point]
    at, point, size = at[found], point[found], 2 + three[found]
    near = _ALONE[point]
    for distance in range(1, NEAR + 1):  # ASCII characters are one byte: a non-ASCII one at most NEAR ...
        near |= raw[at - distance] >= 0x80  # ... characters before ends at most NEAR bytes before
        near |= raw[at + size + distance - 1] >= 0x80  # and one after starts at most NEAR bytes after
    return at[near]


def mojibake_in(texts: Sequence[str], encoded: Sequence[bytes] | None = None) -> list[int]:
    """Indices of the texts that ftfy.badness.is_bad calls mojibake (the same answer, computed faster).

    `encoded`, when given, holds each text's UTF-8 (saves encoding it again).
    """
    if _FOUND is None:  # pragma: no cover
        return [i for i, text in enumerate(texts) if BADNESS_RE.search(text)]
    utf8 = encoded if encoded is not None else [t.encode("utf-8") for t in texts]
    pad = bytes(NEAR + 2)
    hits = _hits(pad + b"".join(utf8) + pad) - len(pad)
    if not hits.size:
        return []
    starts = np.cumsum([0, *(len(e) for e in utf8)])
    owner = np.searchsorted(starts, hits, side="right") - 1
    cuts = np.flatnonzero(owner[1:] != owner[:-1]) + 1
    records = owner[np.concatenate([[0], cuts])].tolist()
    return [
        record
        for record, mine in zip(records, np.split(hits, cuts), strict=True)
        if _search(texts[record], _characters(utf8[record], (mine - starts[record]).tolist()))
    ]


def _characters(data: bytes, offsets: Sequence[int]) -> list[int]:
    """The character positions of the sorted byte offsets (each at a character's start) of UTF-8 `data`."""
    found, done, chars = [], 0, 0
    for offset in offsets:
        chars += len(data[done:offset].decode("utf-8"))
        done = offset
        found.append(chars)
    return found


def is_mojibake(text: str) -> bool:
    """ftfy.badness.is_bad(text)."""
    return bool(mojibake_in([text]))
