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
from collections.abc import Sequence
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
_P: Final = np.uint32(0x01000193)  # the characters' polynomial hash, modulo 2**32
_BYTE_MASKS: Final = np.array([(1 << (8 * i)) - 1 for i in range(9)], dtype=np.uint64)  # the first i bytes of 8
WORD_BYTES: Final = 16  # a word of up to this many bytes is its own bytes (two 8-byte values); longer, its xxh3
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


def is_spaced(text: str) -> bool:
    """True when the text separates words with spaces (word shingles suit it)."""
    sample = text[:SCRIPT_SAMPLE]
    return sample.count(" ") >= SPACED_SHARE * len(sample)


def _by_record(grams: U64, tokens: npt.NDArray[Any], bounds: Sequence[int], n: int) -> tuple[U64, I64]:
    """The n-gram hashes (`grams[i]`: tokens i .. i+n-1 of the batch) that lie inside one record, with
    each record's count; a record of 1 to n-1 tokens has one shingle, the n-gram hash of its tokens.
    `bounds`: the first token of each record, then the number of tokens.
    """
    parts, counts = [], np.zeros(len(bounds) - 1, dtype=np.int64)
    for record, (first, end) in enumerate(itertools.pairwise(bounds)):
        if end - first >= n:
            parts.append(grams[first : end - n + 1])
            counts[record] = end - first - n + 1
        elif end > first:
            with np.errstate(over="ignore"):
                few = tokens[first:end].astype(np.uint64) * _MULTIPLIERS[: end - first]
                parts.append(few.sum(dtype=np.uint64, keepdims=True))
            counts[record] = 1
    return (_mix(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.uint64)), counts


def _ngrams(tokens: U64, n: int) -> U64:
    """Hashes of every n consecutive tokens of the batch (empty when fewer than n)."""
    span = max(tokens.size - n + 1, 0)
    with np.errstate(over="ignore"):
        grams: U64 = tokens[:span] * _MULTIPLIERS[0]
        for j in range(1, n):
            grams += tokens[j : j + span] * _MULTIPLIERS[j]
    return grams


def word_shingles(encoded: Sequence[bytes]) -> tuple[U64, I64]:
    """Hashes of WORD_SHINGLE-word shingles of each UTF-8 text (lower-cased, split at ASCII whitespace), and
    each text's count of shingles; a text of fewer words has one shingle, its words.

    A word of up to WORD_BYTES bytes is read as two little-endian 8-byte values straight from the batch's
    bytes (its bytes and length identify it exactly); a longer word is its xxh3-64 hash.
    """
    data = b"\n" + b"\n".join(encoded).lower() + b"\n" + bytes(WORD_BYTES)
    raw = np.frombuffer(data, dtype=np.uint8)
    word = raw > 32
    edges = np.flatnonzero(word[1:] != word[:-1]) + 1  # the data starts and ends outside a word: start, end, ...
    starts, ends = edges[0::2], edges[1::2]
    length = ends - starts
    reads = np.ndarray((raw.size - WORD_BYTES + 1,), dtype=f"V{WORD_BYTES}", buffer=data, strides=(1,))
    halves = reads[starts].view("<u8")  # the 16 bytes from each word's start: (low, high) pairs
    with np.errstate(over="ignore"):
        tokens = halves[0::2] & _BYTE_MASKS[np.minimum(length, 8)]
        high = halves[1::2] & _BYTE_MASKS[np.clip(length - 8, 0, 8)]
        tokens ^= high * _MIX1
        tokens ^= length.astype(np.uint64) * _MIX2
    for i in np.flatnonzero(length > WORD_BYTES).tolist():
        tokens[i] = hash_bytes(data[starts[i] : ends[i]])
    offsets = np.cumsum([1, *(len(e) + 1 for e in encoded)])  # each text's first byte in `data`, then the end
    bounds = np.searchsorted(starts, offsets).tolist()
    return _by_record(_ngrams(tokens, WORD_SHINGLE), tokens, bounds, WORD_SHINGLE)


def char_shingles(texts: Sequence[str]) -> tuple[U64, I64]:
    """Hashes of CHAR_SHINGLE-character shingles of each text (whitespace left out), and each text's count
    of shingles; a text of fewer characters has one shingle, its characters.

    A shingle's hash is the polynomial hash (modulo 2**32) of its code points, then mixed to 64 bits.
    """
    points = np.frombuffer("".join(texts).encode("utf-32-le"), dtype=np.uint32)
    keep = points > 32
    keep &= points != 0x3000
    keep &= points != 0xA0
    kept = points[keep]
    n = CHAR_SHINGLE
    span = max(kept.size - n + 1, 0)
    with np.errstate(over="ignore"):
        grams32 = kept[:span].copy()
        for j in range(1, n):
            grams32 *= _P
            grams32 += kept[j : j + span]
    cuts = np.cumsum([0, *(len(t) for t in texts)]).tolist()
    bounds = [0]
    for start, end in itertools.pairwise(cuts):
        bounds.append(bounds[-1] + int(np.count_nonzero(keep[start:end])))
    return _by_record(grams32.astype(np.uint64), kept, bounds, n)


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
