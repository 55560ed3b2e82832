"""Vectorised validation of a block of lines: exact, or None when any line needs the per-line rules.

A block passes only when every line is a compact-enough valid record; then the result is the
same as the per-line checker would give (the tests hold the two paths equal). Strictness:
- msgspec parses every line (strings: escapes, control characters, surrogates);
- every line starts with `{` and ends with `"}` (before an optional `\\r`), and the number of
  parsed values equals the number of lines, so each line holds exactly one object whose
  "text" value is a string;
- unescaped quotes number exactly 4 per record, so no key appears twice;
- the bytes are valid UTF-8 (msgspec's raw mode does not check it).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from operator import attrgetter

import msgspec
import numpy as np
import numpy.typing as npt

from novacpt.dataset.text_hash import hash_bytes, normalised_hash, text_hash
from novacpt.dataset.utf8 import non_ascii_characters

SHORTEST_RECORD = len(b'{"text":"x"}')
_QUOTE, _BACKSLASH, _SPACE, _NEWLINE, _CR = 34, 92, 32, 10, 13
# Escapes whose character may be whitespace, non-ASCII or a control character: normalisation
# must see the decoded text.
_MAY_CHANGE = np.frombuffer(b"bfnrtu", dtype=np.uint8)


class _RawRecord(msgspec.Struct, forbid_unknown_fields=True):
    text: msgspec.Raw


_DECODER = msgspec.json.Decoder(_RawRecord)
_STR = msgspec.json.Decoder(str)
_TEXT = attrgetter("text")


@dataclass(slots=True)
class BlockRecords:
    """Per-record facts of a block whose every line is a valid record."""

    hashes: npt.NDArray[np.uint64]
    norm_hashes: npt.NDArray[np.uint64] | None
    text_bytes: npt.NDArray[np.int64]
    characters: int


def line_ends(a: npt.NDArray[np.uint8]) -> npt.NDArray[np.int64]:
    """Exclusive end offset of every line in `a` (a last line without `\\n` ends at the end)."""
    ends = np.flatnonzero(a == _NEWLINE)
    if a.size and a[-1] != _NEWLINE:
        ends = np.append(ends, a.size)
    return ends


def scan_block(data: bytes | memoryview, *, normalise: bool) -> BlockRecords | None:
    """Validate a block of whole lines at once; None when any line breaks a rule."""
    a = np.frombuffer(data, dtype=np.uint8)
    ends = line_ends(a)
    n = ends.size
    if n == 0:
        return None
    try:
        records = _DECODER.decode_lines(data)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):  # bad UTF-8 in a key, deep nesting
        return None
    if len(records) != n:
        return None
    starts = np.empty(n, dtype=np.int64)
    starts[0] = 0
    starts[1:] = ends[:-1] + 1
    stop = ends.copy()
    stop[(stop > starts) & (a[np.maximum(stop - 1, 0)] == _CR)] -= 1
    if (stop - starts < SHORTEST_RECORD).any():
        return None
    brace = stop - 1
    if not ((a[starts] == ord("{")).all() and (a[brace] == ord("}")).all() and (a[brace - 1] == _QUOTE).all()):
        return None
    texts = list(map(_TEXT, records))
    lens = np.fromiter(map(len, texts), dtype=np.int64, count=n)
    raw_start = brace - lens

    # Escapes: a backslash at an even offset within its run escapes the byte after it.
    backslashes = np.flatnonzero(a == _BACKSLASH)
    escapes = _escaping(backslashes)
    targets = a[escapes + 1]
    owner = np.searchsorted(ends, escapes, side="right")
    if (escapes <= raw_start[owner]).any():
        return None  # an escape in the key: let the exact rules judge it
    quotes = int(np.count_nonzero(a == _QUOTE)) - int(np.count_nonzero(targets == _QUOTE))
    if quotes != 4 * n:
        return None

    high = np.flatnonzero(a >= 0x80)
    wide_characters = non_ascii_characters(a, high)
    if wide_characters is None:
        return None

    first = a[raw_start + 1]
    suspicious = (lens == 2) | (first == _SPACE) | (first == _BACKSLASH) | np.isin(first, (0xC2, 0xE1, 0xE2, 0xE3))
    for i in np.flatnonzero(suspicious).tolist():
        if not _STR.decode(texts[i]).strip():
            return None

    text_bytes = lens - 2 - np.bincount(owner, minlength=n)
    hashes = np.fromiter(map(hash_bytes, texts), dtype=np.uint64, count=n)
    characters = int(text_bytes.sum()) - high.size + wide_characters
    # Texts written with \uXXXX or \/ escapes are not in canonical form: hash their decoded text.
    for i in np.unique(owner[(targets == ord("u")) | (targets == ord("/"))]).tolist():
        text = _STR.decode(texts[i])
        raw = a[raw_start[i] : brace[i]]
        characters += len(text) - int(text_bytes[i]) + int(np.count_nonzero((raw & 0xC0) == 0x80))
        text_bytes[i] = len(text.encode("utf-8"))
        hashes[i] = text_hash(text)
    hashes[hashes == 0] = 1
    norm = _norm_hashes(a, texts, hashes, ends, owner, targets, high, first, brace) if normalise else None
    return BlockRecords(hashes, norm, text_bytes, characters)


def _escaping(backslashes: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    if backslashes.size == 0:
        return backslashes
    run_start = np.ones(backslashes.size, dtype=bool)
    run_start[1:] = np.diff(backslashes) != 1
    first_of_run = np.flatnonzero(run_start)
    offset = np.arange(backslashes.size) - first_of_run[np.cumsum(run_start) - 1]
    escaping: npt.NDArray[np.int64] = backslashes[offset % 2 == 0]
    return escaping


def _norm_hashes(
    a: npt.NDArray[np.uint8],
    texts: list[msgspec.Raw],
    hashes: npt.NDArray[np.uint64],
    ends: npt.NDArray[np.int64],
    owner: npt.NDArray[np.int64],
    targets: npt.NDArray[np.uint8],
    high: npt.NDArray[np.int64],
    first: npt.NDArray[np.uint8],
    brace: npt.NDArray[np.int64],
) -> npt.NDArray[np.uint64]:
    """Normalised-text hashes, computing the normal form only for texts it may change.

    A text is its own normal form when its whitespace is single spaces between words (no
    whitespace escape, no double space, none at either end, no Unicode space) and it is NFC.
    """
    space = a == _SPACE
    doubled = np.flatnonzero(space[:-1] & space[1:])
    high_owner = np.searchsorted(ends, high, side="right")
    rewrite = np.zeros(hashes.size, dtype=bool)
    rewrite[np.searchsorted(ends, doubled, side="right")] = True
    rewrite[owner[np.isin(targets, _MAY_CHANGE)]] = True
    rewrite |= (first == _SPACE) | (a[brace - 2] == _SPACE)
    rewrite[high_owner[_unicode_spaces(a, high)]] = True
    wide = np.zeros(hashes.size, dtype=bool)
    wide[high_owner] = True
    wide &= ~rewrite
    if wide.any() and not _nfc(a, high[wide[high_owner]]):
        rewrite |= wide
    norm = hashes.copy()
    for i in np.flatnonzero(rewrite).tolist():
        norm[i] = normalised_hash(_STR.decode(texts[i]))
    return norm


def _unicode_spaces(a: npt.NDArray[np.uint8], high: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    """Which non-ASCII bytes start a Unicode whitespace character (U+0085, U+00A0, U+1680, ...)."""
    last = a.size - 1
    b0, b1, b2 = a[high], a[np.minimum(high + 1, last)], a[np.minimum(high + 2, last)]
    found: npt.NDArray[np.bool_] = (
        ((b0 == 0xC2) & ((b1 == 0x85) | (b1 == 0xA0)))
        | ((b0 == 0xE1) & (b1 == 0x9A) & (b2 == 0x80))
        | ((b0 == 0xE2) & (b1 == 0x80) & (((b2 >= 0x80) & (b2 <= 0x8A)) | np.isin(b2, (0xA8, 0xA9, 0xAF))))
        | ((b0 == 0xE2) & (b1 == 0x81) & (b2 == 0x9F))
        | ((b0 == 0xE3) & (b1 == 0x80) & (b2 == 0x80))
    )
    return found


def _nfc(a: npt.NDArray[np.uint8], picked: npt.NDArray[np.int64]) -> bool:
    """True when every run of non-ASCII bytes at `picked`, with the character before it, is NFC.

    NFC acts on each such segment alone: an ASCII character never decomposes and is never the
    second of a composition, so the ASCII text around the runs cannot change the result.
    """
    run_start = np.ones(picked.size, dtype=bool)
    run_start[1:] = np.diff(picked) != 1
    segments = np.insert(a[picked], np.flatnonzero(run_start), a[picked[run_start] - 1]).tobytes()
    return unicodedata.is_normalized("NFC", segments.decode("utf-8"))
