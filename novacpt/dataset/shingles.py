"""Shingles of record texts and their MinHash LSH band keys, a batch of records at a time.

A record is space-separated text when at least SPACED_SHARE of its first SCRIPT_SAMPLE characters are
spaces: its shingles are WORD_SHINGLE consecutive lower-cased words. Otherwise (Chinese, Japanese,
Thai ...) they are CHAR_SHINGLE consecutive characters, whitespace left out. Shingles are hashed with
numpy over the whole batch; rensa (Rust) turns each record's shingle hashes into NUM_PERM MinHash
values, cut into BANDS bands of ROWS values. Two records whose band keys agree in at least one band
are near copies: the probability is 1 - (1 - J**ROWS)**BANDS for Jaccard similarity J, one half at
THRESHOLD.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import rensa

from novacpt.dataset.text_hash import hash_bytes

WORD_SHINGLE: Final = 3
CHAR_SHINGLE: Final = 5
SCRIPT_SAMPLE: Final = 200
SPACED_SHARE: Final = 0.05
BANDS: Final = 10
ROWS: Final = 12
NUM_PERM: Final = BANDS * ROWS
SEED: Final = 1234567
THRESHOLD: Final = 0.8  # the Jaccard similarity where 1 - (1 - J**ROWS)**BANDS = 0.5 (0.798)

U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]
_MIX1: Final = np.uint64(0xBF58476D1CE4E5B9)
_MIX2: Final = np.uint64(0x94D049BB133111EB)
_MULTIPLIERS: Final = np.array(
    [0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93, 0xFF51AFD7ED558CCD],
    dtype=np.uint64,
)
U32 = npt.NDArray[np.uint32]
_FMIX1: Final = np.uint32(0x85EBCA6B)
_FMIX2: Final = np.uint32(0xC2B2AE35)
_P: Final = np.uint32(0x01000193)  # the characters' polynomial hash, modulo 2**32
WORD_BYTES: Final = 16  # a word of up to this many bytes is its own bytes (two 8-byte values); longer, its xxh3
# the first i of WORD_BYTES bytes: in the low and in the high little-endian 8-byte value
_LOW_MASKS: Final = np.array([(1 << (8 * min(i, 8))) - 1 for i in range(WORD_BYTES + 1)], dtype=np.uint64)
_HIGH_MASKS: Final = np.array([(1 << (8 * max(i - 8, 0))) - 1 for i in range(WORD_BYTES + 1)], dtype=np.uint64)
_BAND_SALT: Final = (np.arange(BANDS, dtype=np.uint64) + np.uint64(1)) * np.uint64(0xA0761D6478BD642F)
_ROW_WEIGHTS: Final = np.array([(0x9FB21C651E98DF25 * (2 * i + 1)) % (1 << 64) for i in range(ROWS)], dtype=np.uint64)


def _mix(h: U64) -> U64:
    """splitmix64's finaliser, in place: spreads every input bit over the whole word."""
    h ^= h >> np.uint64(30)
    h *= _MIX1
    h ^= h >> np.uint64(27)
    h *= _MIX2
    h ^= h >> np.uint64(31)
    return h


def _fmix32(h: U32) -> U32:
    """MurmurHash3's 32-bit finaliser, in place."""
    h ^= h >> np.uint32(16)
    h *= _FMIX1
    h ^= h >> np.uint32(13)
    h *= _FMIX2
    h ^= h >> np.uint32(16)
    return h


def is_spaced(text: str) -> bool:
    """True when the text separates words with spaces (word shingles suit it)."""
    sample = text[:SCRIPT_SAMPLE]
    return sample.count(" ") >= SPACED_SHARE * len(sample)


def _ngrams(tokens: U64, n: int) -> U64:
    """Hashes of every n consecutive tokens (empty when fewer than n)."""
    span = max(tokens.size - n + 1, 0)
    with np.errstate(over="ignore"):
        grams: U64 = tokens[:span] * _MULTIPLIERS[0]
        for j in range(1, n):
            grams += tokens[j : j + span] * _MULTIPLIERS[j]
    return grams


def _polynomial(points: U32, n: int) -> U32:
    """Polynomial hashes (modulo 2**32) of every n consecutive code points (empty when fewer than n)."""
    span = max(points.size - n + 1, 0)
    grams = points[:span].copy()
    with np.errstate(over="ignore"):
        for j in range(1, n):
            grams *= _P
            grams += points[j : j + span]
    return grams


def _by_record(
    tokens: npt.NDArray[Any], bounds: Sequence[int], n: int, hashes: Callable[[Any, int], Any]
) -> tuple[npt.NDArray[Any], I64]:
    """The `hashes` of the n-grams of tokens that lie inside one record, and each record's count; a record
    of 1 to n-1 tokens has one shingle, the hash of its tokens. `bounds`: each record's first token, then
    the number of tokens.
    """
    grams = hashes(tokens, n)
    parts, counts = [], np.zeros(len(bounds) - 1, dtype=np.int64)
    for record, (first, end) in enumerate(itertools.pairwise(bounds)):
        if end - first >= n:
            parts.append(grams[first : end - n + 1])
            counts[record] = end - first - n + 1
        elif end > first:
            parts.append(hashes(tokens[first:end], end - first))
            counts[record] = 1
    return (np.concatenate(parts) if parts else grams[:0]), counts


def word_shingles(encoded: Sequence[bytes]) -> tuple[U64, I64]:
    """Hashes of WORD_SHINGLE-word shingles of each UTF-8 text (lower-cased, split at ASCII whitespace), and
    each text's count of shingles; a text of fewer words has one shingle, its words.

    A word of up to WORD_BYTES bytes is read as two little-endian 8-byte values straight from the batch's
    bytes (its bytes and length identify it exactly); a longer word is its xxh3-64 hash.
    """
    data = b"\n".join([b"", *encoded, bytes(WORD_BYTES)]).lower()
    raw = np.frombuffer(data, dtype=np.uint8)
    word = raw > 32
    edges = np.flatnonzero(word[1:] != word[:-1]) + 1  # the data starts and ends outside a word: start, end, ...
    starts, ends = edges[0::2], edges[1::2]
    length = ends - starts
    reads = np.ndarray((raw.size - WORD_BYTES + 1,), dtype=f"V{WORD_BYTES}", buffer=data, strides=(1,))
    halves = reads[starts].view("<u8")  # the 16 bytes from each word's start: (low, high) pairs
    read = np.minimum(length, WORD_BYTES)
    tokens = halves[0::2] & _LOW_MASKS[read]
    with np.errstate(over="ignore"):
        tokens ^= (halves[1::2] & _HIGH_MASKS[read]) * _MIX1  # a word's bytes are never 0: they tell its length
    for i in np.flatnonzero(length > WORD_BYTES).tolist():
        tokens[i] = hash_bytes(data[starts[i] : ends[i]])
    offsets = np.cumsum([1, *(len(e) + 1 for e in encoded)])  # each text's first byte in `data`, then the end
    grams, counts = _by_record(tokens, np.searchsorted(starts, offsets).tolist(), WORD_SHINGLE, _ngrams)
    return _mix(grams), counts


def char_shingles(texts: Sequence[str]) -> tuple[U64, I64]:
    """Hashes of CHAR_SHINGLE-character shingles of each text (whitespace left out), and each text's count
    of shingles; a text of fewer characters has one shingle, its characters.

    A shingle's hash is the polynomial hash (modulo 2**32) of its code points, mixed.
    """
    points = np.frombuffer("".join(texts).encode("utf-32-le"), dtype=np.uint32)
    keep = points > 32
    keep &= points != 0x3000
    keep &= points != 0xA0
    lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
    starts = (np.cumsum(lengths) - lengths)[lengths > 0]
    per_text = np.zeros(len(texts), dtype=np.int64)
    if starts.size:
        per_text[lengths > 0] = np.add.reduceat(keep, starts, dtype=np.int64)
    bounds = np.concatenate([[0], np.cumsum(per_text)]).tolist()
    grams, counts = _by_record(points[keep], bounds, CHAR_SHINGLE, _polynomial)
    return _fmix32(grams).astype(np.uint64), counts


def band_keys(texts: Sequence[str], encoded: Sequence[bytes] | None = None) -> npt.NDArray[np.uint64]:
    """A (records, BANDS) array of LSH band keys; a row of zeros for a text with no shingle.

    `encoded`, when given, holds each text's UTF-8 (saves encoding it again).
    """
    keys = np.zeros((len(texts), BANDS), dtype=np.uint64)
    if not texts:
        return keys
    spaced = np.fromiter((is_spaced(t) for t in texts), dtype=bool, count=len(texts))
    parts = []
    words = np.flatnonzero(spaced).tolist()
    if words:
        utf8 = [encoded[i] if encoded is not None else texts[i].encode("utf-8") for i in words]
        parts.append((np.asarray(words, dtype=np.int64), *word_shingles(utf8)))
    chars = np.flatnonzero(~spaced).tolist()
    if chars:
        parts.append((np.asarray(chars, dtype=np.int64), *char_shingles([texts[i] for i in chars])))
    for which, grams, counts in parts:
        offsets = np.zeros(which.size + 1, dtype=np.uint64)
        np.cumsum(counts, out=offsets[1:])
        matrix: Any = rensa.RMinHash.digest_matrix_from_flat_token_hashes(grams, offsets, NUM_PERM, SEED)
        values = np.asarray(matrix.to_rows(), dtype=np.uint64).reshape(which.size, BANDS, ROWS)
        with np.errstate(over="ignore"):
            band = _mix((values * _ROW_WEIGHTS).sum(axis=2, dtype=np.uint64) + _BAND_SALT)
        band[band == 0] = 1
        band[counts == 0] = 0
        keys[which] = band
    return keys
