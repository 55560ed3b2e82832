"""The parsed block path, for blocks dense in escapes (`\\uXXXX` text, source code) or in CJK text.

The block is parsed by one orjson call as a JSON array: a comma is put before each line break, so
`[l1,\\nl2,\\n...,\\n0]` is the array of the lines' values and a closing 0. A block passes only when
every line is a valid record, and then gives what the per-line checker gives (the tests hold the two
equal). Why the array is exactly the lines:
- orjson is strict: one JSON text, UTF-8 checked, escapes and surrogates checked, no control
  character in a string, no NaN, no trailing comma, no elision;
- there are as many values as lines, each a dict holding "text" with a str, and the block's
  unescaped quotes number exactly 4 a line, so each value is `{"text": "..."}` with one key (no
  duplicate, no other key);
- such a value cannot span lines: a line break inside a string is a raw control character, and
  the comma put before it is valid nowhere inside a one-key object; a line holding no value (blank
  or only commas) makes two commas meet; so each line holds exactly one value.
A text whose first character is whitespace or invisible is checked in full by `is_blank`. What is
added per record runs in C (`map` over built-ins), so the cost follows the parse, whatever the
language or the escapes.
"""

from __future__ import annotations

from operator import itemgetter

import numpy as np
import numpy.typing as npt
import orjson

from novacpt.dataset.blank import is_blank
from novacpt.dataset.records import BlockRecords
from novacpt.dataset.text_hash import normalised_hash_if_needed, utf8_hashes

_NEWLINE, _QUOTE, _BACKSLASH, _U = 10, 34, 92, ord("u")
_TEXT = itemgetter("text")
_FIRST = itemgetter(0)
_loads = orjson.loads


def scan_parsed(data: bytes | memoryview, *, normalise: bool) -> BlockRecords | None:
    """Validate a block of whole lines at once; None when any line breaks a rule."""
    if not data:
        return None
    # "[" + each line and ",\n" + "0]": one JSON array of the lines' values and a 0 after them.
    array = bytearray(b"[")
    array += data
    if array[-1] != _NEWLINE:
        array += b"\n"  # the file's last line, without its line break
    lines = len(array)
    array = array.replace(b"\n", b",\n")
    n = len(array) - lines
    array += b"0]"
    try:
        records = _loads(array)
        if len(records) != n + 1 or records.pop() != 0:
            return None
        texts: list[str] = list(map(_TEXT, records))  # KeyError: no "text"; TypeError: not an object
        del records
        encoded = list(map(str.encode, texts))  # TypeError: "text" is not a str
    except (ValueError, KeyError, TypeError):  # orjson.JSONDecodeError is a ValueError
        return None
    characters = np.fromiter(map(len, texts), dtype=np.int64, count=n)
    a = np.frombuffer(data, dtype=np.uint8)
    if not characters.all() or not _one_key_each(a, encoded):
        return None
    firsts = "".join(map(_FIRST, texts))
    if not firsts.isprintable() or " " in firsts:
        for i, first in enumerate(firsts):
            if (first == " " or not first.isprintable()) and is_blank(texts[i]):
                return None
    text_bytes = np.fromiter(map(len, encoded), dtype=np.int64, count=n)
    hashes = utf8_hashes(encoded)
    norm = None
    if normalise:
        norm = np.fromiter(map(normalised_hash_if_needed, texts, hashes.tolist()), dtype=np.uint64, count=n)
    return BlockRecords(hashes, norm, text_bytes, characters)


def _one_key_each(a: npt.NDArray[np.uint8], encoded: list[bytes]) -> bool:
    """True when the block's unescaped quotes are exactly 4 a line (every value has at least 4).

    Without a `\\u` escape in the block, every quote of a kept text was written `\\"`, so the
    unescaped quotes are at most the quotes less those of the texts (counted in their UTF-8, joined),
    equal when no value was dropped (orjson keeps the last of duplicate keys): the block passes when
    that is 4 a line.
    """
    lines = len(encoded)
    total = int(np.count_nonzero(a == _QUOTE))
    if total == 4 * lines:
        return True  # no escaped quote (with one, there would be more)
    backslashes = a[:-1] == _BACKSLASH
    if not np.count_nonzero(backslashes & (a[1:] == _U)):
        in_texts = np.count_nonzero(np.frombuffer(b"".join(encoded), dtype=np.uint8) == _QUOTE)
        return total - int(in_texts) == 4 * lines
    # A quote is escaped when an odd run of backslashes precedes it; runs of 2 or more are rare.
    candidates = np.flatnonzero(backslashes & (a[1:] == _QUOTE)) + 1
    escaped, run = 0, 1
    while candidates.size:
        before = candidates - run - 1
        longer = (before >= 0) & (a[np.maximum(before, 0)] == _BACKSLASH)
        if run % 2:
            escaped += int(candidates.size - np.count_nonzero(longer))
        candidates = candidates[longer]
        run += 1
    return total - escaped == 4 * lines
