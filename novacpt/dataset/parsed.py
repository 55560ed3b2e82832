"""The parsed block path: orjson per line, for blocks dense in escapes (`\\uXXXX` text, source code).

A block passes only when every line is a valid record; then the result is the one the per-line
checker gives (the tests hold the two paths equal). Strictness:
- orjson parses each line on its own: one JSON value a line, strict UTF-8, valid escapes, no
  control characters in strings, no lone surrogates, no NaN;
- every value is a dict of one key, "text", whose value is a non-empty exact str;
- the block's unescaped quotes number exactly 4 a line, so no key appears twice (orjson keeps
  the last of duplicate keys);
- a text whose first character is whitespace or invisible is checked in full by `is_blank`.
The parser's own loop does the per-character work; what this module adds per record runs in C
(`map` over built-ins), so the cost depends neither on the language nor on the escapes.
"""

from __future__ import annotations

from operator import itemgetter

import numpy as np
import orjson

from novacpt.dataset.blank import is_blank
from novacpt.dataset.records import BlockRecords
from novacpt.dataset.text_hash import hash_bytes, normalised_hash_if_needed, quoted

_QUOTE, _BACKSLASH = 34, 92
_TEXT = itemgetter("text")
_FIRST = itemgetter(0)
_loads = orjson.loads


def split_lines(data: bytes | memoryview) -> list[bytes]:
    """The lines of a block (without their `\\n`; a last line without one is kept)."""
    lines = (data if isinstance(data, bytes) else bytes(data)).split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    return lines


def scan_parsed(data: bytes | memoryview, *, normalise: bool) -> BlockRecords | None:
    """Validate a block of whole lines at once; None when any line breaks a rule."""
    raw = data if isinstance(data, bytes) else bytes(data)
    lines = split_lines(raw)
    n = len(lines)
    if n == 0:
        return None
    try:
        records = list(map(_loads, lines))
        texts: list[str] = list(map(_TEXT, records))
    except (ValueError, KeyError, TypeError):  # not JSON, not an object, no "text"
        return None
    if set(map(type, texts)) != {str} or set(map(len, records)) != {1}:
        return None
    characters = np.fromiter(map(len, texts), dtype=np.int64, count=n)
    if not characters.all():
        return None

    firsts = "".join(map(_FIRST, texts))
    if not firsts.isprintable() or " " in firsts:
        for i, first in enumerate(firsts):
            if (first == " " or not first.isprintable()) and is_blank(texts[i]):
                return None
    if not _one_key_each(raw, n):
        return None
    encoded = list(map(str.encode, texts))
    text_bytes = np.fromiter(map(len, encoded), dtype=np.int64, count=n)
    hashes = np.fromiter(map(hash_bytes, map(quoted, encoded)), dtype=np.uint64, count=n)
    hashes[hashes == 0] = 1
    norm = None
    if normalise:
        norm = np.fromiter(map(normalised_hash_if_needed, texts, hashes.tolist()), dtype=np.uint64, count=n)
    return BlockRecords(hashes, norm, text_bytes, characters)


def _one_key_each(raw: bytes, lines: int) -> bool:
    """True when no line repeats its key: the block's unescaped quotes are exactly 4 a line."""
    a = np.frombuffer(raw, dtype=np.uint8)
    quotes = np.flatnonzero(a == _QUOTE)
    if quotes.size == 4 * lines:
        return True
    # A quote is escaped when an odd run of backslashes precedes it; runs of 2 or more are rare.
    candidates = quotes[a[quotes - 1] == _BACKSLASH]  # a line starts with "{", so quotes[0] >= 1
    escaped, run = 0, 1
    while candidates.size:
        longer = a[candidates - run - 1] == _BACKSLASH
        if run % 2:
            escaped += int(candidates.size - np.count_nonzero(longer))
        candidates = candidates[longer]
        run += 1
    return quotes.size - escaped == 4 * lines
