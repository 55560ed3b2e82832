"""Validation of a block of lines at once: exact, or None when any line needs the per-line rules.

Two block paths; each accepts a block only when every line is a valid record, and then gives what
the per-line checker gives (the tests hold all paths equal):
- the raw path (here), for text with few escapes and little non-ASCII (English, most European text):
  msgspec parses the lines with each text kept raw, numpy finds escapes and quotes and undoes the
  escapes in a copy of the block, and each text's UTF-8 bytes are hashed where they lie;
- the parsed path (parsed.py), for blocks dense in backslashes (`\\uXXXX` text, source code) or in
  non-ASCII bytes (CJK), or holding a `\\u`/`\\/` escape: one orjson call decodes the block.
Raw-path strictness:
- msgspec parses every line (strings: escapes, control characters, surrogates);
- every line starts with `{` and ends with `"}` (before an optional `\\r`), and the number of
  parsed values equals the number of lines, so each line holds exactly one object whose
  "text" value is a string;
- no key appears twice: each value starts fewer than ONE_MEMBER bytes into its line (two members
  need more), or else the unescaped quotes number exactly 4 per record;
- the bytes are valid UTF-8 (msgspec's raw mode does not check it): the runs of non-ASCII bytes
  are decoded.
"""

from __future__ import annotations

from itertools import chain, compress, zip_longest
from operator import attrgetter

import msgspec
import numpy as np
import numpy.typing as npt

from novacpt.dataset.blank import is_blank
from novacpt.dataset.parsed import scan_parsed
from novacpt.dataset.records import BlockRecords
from novacpt.dataset.text_hash import hash_bytes, normalised_hash_if_needed
from novacpt.dataset.utf8 import non_ascii_characters

SHORTEST_RECORD = len(b'{"text":"x"}')
_QUOTE, _BACKSLASH, _SPACE, _NEWLINE, _CR = 34, 92, 32, 10, 13
# Escapes the raw path leaves to the parsed path, and the characters of those it undoes itself.
_U, _SLASH = ord("u"), ord("/")
_UNESCAPED = [bytes([c]) for c in range(256)]
for _letter, _char in zip(b"bfnrt", b"\b\f\n\r\t", strict=True):
    _UNESCAPED[_letter] = bytes([_char])
# Blocks with more backslashes than 1 byte in DENSE_ESCAPES, or more non-ASCII bytes than 1 in
# DENSE_WIDE (CJK text: decoding is the work, and orjson's decoder is the fastest at hand), go to the
# parsed path at once; either path gives the same result, only the cost differs.
DENSE_ESCAPES = 32
DENSE_WIDE = 16
SAMPLE_BYTES = 64 << 10  # the densities are judged on the block's first bytes
ONE_MEMBER = len(b'{"text":0,"text":')  # the shortest start of a line before a second member's value


# The first two UTF-8 bytes (hex) of every non-ASCII whitespace or format (Cf) character: a text
# starting otherwise is not blank. tests/ recomputes this list from unicodedata.
BLANK_STARTS = (
    "C285 C2A0 C2AD D880 D881 D882 D883 D884 D885 D89C DB9D DC8F E0A2 E0A3 E19A E1A0 E280 E281 E380 EFBB EFBF "
    "F091 F093 F09B F09D F3A0"
)
_BLANK_START = np.zeros(1 << 16, dtype=bool)
_BLANK_START[[int(pair, 16) for pair in BLANK_STARTS.split()]] = True


class _RawRecord(msgspec.Struct, forbid_unknown_fields=True):
    text: msgspec.Raw


_DECODER = msgspec.json.Decoder(_RawRecord)
_STR = msgspec.json.Decoder(str)
_TEXT = attrgetter("text")


def line_ends_and_high(a: npt.NDArray[np.uint8]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Exclusive end offset of every line in `a` (a last line without `\\n` ends at the end), and the
    offsets of its bytes >= 0x80; one pass finds both, as read as int8 they are the bytes below 11."""
    low = np.flatnonzero(a.view(np.int8) < 11)
    found = a[low]
    ends = low[found == _NEWLINE]
    if a.size and a[-1] != _NEWLINE:
        ends = np.append(ends, a.size)
    return ends, low[found >= 0x80]


def scan_block(data: bytes | memoryview, *, normalise: bool) -> BlockRecords | None:
    """Validate a block of whole lines at once; None when any line breaks a rule."""
    a = np.frombuffer(data, dtype=np.uint8)
    sample = a[:SAMPLE_BYTES]
    dense = np.count_nonzero(sample == _BACKSLASH) * DENSE_ESCAPES > sample.size
    if dense or np.count_nonzero(sample >= 0x80) * DENSE_WIDE > sample.size:
        return scan_parsed(data, normalise=normalise)
    raw = _scan_raw(data, a, normalise=normalise)
    if raw is _PARSE:
        return scan_parsed(data, normalise=normalise)
    return raw if isinstance(raw, BlockRecords) else None


_PARSE = object()  # the raw path's answer for a block it leaves to the parsed path


def _scan_raw(data: bytes | memoryview, a: npt.NDArray[np.uint8], *, normalise: bool) -> BlockRecords | object | None:
    ends, high = line_ends_and_high(a)
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
    stop = ends - (a[np.maximum(ends - 1, 0)] == _CR)  # an empty line ends after a `\n`, not a `\r`
    if (stop - starts < SHORTEST_RECORD).any():
        return None
    brace = stop - 1
    if not ((a[starts] == ord("{")).all() and (a[brace] == ord("}")).all() and (a[brace - 1] == _QUOTE).all()):
        return None
    texts = list(map(_TEXT, records))
    lens = np.fromiter(map(len, texts), dtype=np.int64, count=n)
    if (lens == 2).any():
        return None  # an empty text
    raw_start = brace - lens

    # Escapes: a backslash at an even offset within its run escapes the byte after it.
    escapes = _escaping(np.flatnonzero(a == _BACKSLASH))
    targets = a[escapes + 1]
    if np.count_nonzero((targets == _U) | (targets == _SLASH)):
        return _PARSE
    owner = np.searchsorted(ends, escapes, side="right")
    if (escapes <= raw_start[owner]).any():
        return None  # an escape in the key: let the exact rules judge it
    if not (raw_start - starts < ONE_MEMBER).all():
        quotes = int(np.count_nonzero(a == _QUOTE)) - int(np.count_nonzero(targets == _QUOTE))
        if quotes != 4 * n:
            return None

    escape_counts = np.bincount(owner, minlength=n)
    text_bytes = lens - 2 - escape_counts
    if non_ascii_characters(a, high) is None:
        return None
    continuation = high[(a[high] & 0xC0) == 0x80]
    characters = text_bytes - np.bincount(np.searchsorted(ends, continuation, side="right"), minlength=n)

    first = a[raw_start + 1]
    second = a[np.minimum(raw_start + 2, a.size - 1)]
    suspicious = (first == _SPACE) | (first == _BACKSLASH)
    if high.size:
        suspicious |= _BLANK_START[first.astype(np.int64) * 256 + second]
    for i in np.flatnonzero(suspicious).tolist():
        if is_blank(_STR.decode(texts[i])):
            return None

    hashes = _utf8_hashes(data, texts, escapes, targets, escape_counts, raw_start, text_bytes)
    hashes[hashes == 0] = 1
    norm = None
    if normalise:  # text_hash.is_normal decides which texts need their normal form computed
        decoded = map(_STR.decode, texts)
        norm = np.fromiter(map(normalised_hash_if_needed, decoded, hashes.tolist()), dtype=np.uint64, count=n)
    return BlockRecords(hashes, norm, text_bytes, characters)


def _utf8_hashes(
    data: bytes | memoryview,
    texts: list[msgspec.Raw],
    escapes: npt.NDArray[np.int64],
    targets: npt.NDArray[np.uint8],
    escape_counts: npt.NDArray[np.int64],
    starts: npt.NDArray[np.int64],
    text_bytes: npt.NDArray[np.int64],
) -> npt.NDArray[np.uint64]:
    """Hash of each text's quoted UTF-8 bytes: a raw text without escapes is that already; for the
    others the block is rebuilt with its (short) escapes undone and the texts are read from it."""
    if not escapes.size:
        return np.fromiter(map(hash_bytes, texts), np.uint64, len(texts))
    plain = escape_counts == 0
    hashes = np.empty(len(texts), dtype=np.uint64)
    hashes[plain] = np.fromiter(map(hash_bytes, compress(texts, plain.tolist())), np.uint64, int(plain.sum()))
    view = memoryview(data)
    segments = map(view.__getitem__, map(slice, [0, *(escapes + 2).tolist()], [*escapes.tolist(), len(view)]))
    characters = map(_UNESCAPED.__getitem__, targets.tolist())
    view = memoryview(b"".join(chain.from_iterable(zip_longest(segments, characters, fillvalue=b""))))
    escaped = ~plain
    first = starts[escaped] - np.searchsorted(escapes, starts[escaped])  # earlier texts' escapes only
    pieces = map(view.__getitem__, map(slice, first.tolist(), (first + text_bytes[escaped] + 2).tolist()))
    hashes[escaped] = np.fromiter(map(hash_bytes, pieces), np.uint64, first.size)
    return hashes


def _escaping(backslashes: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    if backslashes.size == 0:
        return backslashes
    run_start = np.ones(backslashes.size, dtype=bool)
    run_start[1:] = np.diff(backslashes) != 1
    first_of_run = np.flatnonzero(run_start)
    offset = np.arange(backslashes.size) - first_of_run[np.cumsum(run_start) - 1]
    escaping: npt.NDArray[np.int64] = backslashes[offset % 2 == 0]
    return escaping
