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

from collections.abc import Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import rensa

WORD_SHINGLE: Final = 3
CHAR_SHINGLE: Final = 5
SCRIPT_SAMPLE: Final = 200
SPACED_SHARE: Final = 0.05
BANDS: Final = 10
ROWS: Final = 12
NUM_PERM: Final = BANDS * ROWS
SEED: Final = 1234567
MAX_PIECE: Final = 1 << 20  # bytes of text hashed in one piece: bounds the table of powers
THRESHOLD: Final = 0.8  # the Jaccard similarity where 1 - (1 - J**ROWS)**BANDS = 0.5 (0.798)

U64 = npt.NDArray[np.uint64]
U32 = npt.NDArray[np.uint32]
_P: Final = np.uint32(0x01000193)  # odd: invertible modulo 2**32
_P_INV: Final = np.uint32(pow(int(_P), -1, 1 << 32))
_MIX1: Final = np.uint64(0xBF58476D1CE4E5B9)
_MIX2: Final = np.uint64(0x94D049BB133111EB)
_MULTIPLIERS: Final = np.array(
    [0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93, 0xFF51AFD7ED558CCD],
    dtype=np.uint64,
)
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


class _Powers:
    """P**i and P**-i modulo 2**32 for i below a length that grows on demand."""

    def __init__(self) -> None:
        self.up = np.ones(1, dtype=np.uint32)
        self.down = np.ones(1, dtype=np.uint32)

    def need(self, size: int) -> tuple[U32, U32]:
        if self.up.size < size:
            size = max(size, 2 * self.up.size)
            with np.errstate(over="ignore"):
                self.up = np.cumprod(np.full(size, _P, dtype=np.uint32), dtype=np.uint32) * _P_INV
                self.down = np.cumprod(np.full(size, _P_INV, dtype=np.uint32), dtype=np.uint32) * _P
        return self.up, self.down


_POWERS = _Powers()


def is_spaced(text: str) -> bool:
    """True when the text separates words with spaces (word shingles suit it)."""
    sample = text[:SCRIPT_SAMPLE]
    return sample.count(" ") >= SPACED_SHARE * len(sample)


def _ngrams(tokens: U64, owner: npt.NDArray[np.int64], records: int, n: int) -> tuple[U64, npt.NDArray[np.int64]]:
    """Hashes of n consecutive tokens of one record (a record of fewer tokens: its tokens), by record."""
    if tokens.size >= n:
        span = tokens.size - n + 1
        grams = tokens[:span] * _MULTIPLIERS[0]
        for j in range(1, n):
            grams += tokens[j : j + span] * _MULTIPLIERS[j]
        whole = owner[:span] == owner[n - 1 :]
        grams, gram_owner = _mix(grams[whole]), owner[:span][whole]
    else:
        grams, gram_owner = np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64)
    per_record = np.bincount(owner, minlength=records)
    short = per_record[owner] < n
    if short.any():  # too few tokens for one n-gram: each token is a shingle
        grams = np.concatenate([grams, tokens[short]])
        gram_owner = np.concatenate([gram_owner, owner[short]])
        order = np.argsort(gram_owner, kind="stable")
        grams, gram_owner = grams[order], gram_owner[order]
    return grams, gram_owner


def _pieces(encoded: Sequence[bytes]) -> tuple[list[bytes], list[int]]:
    """Lower-cased UTF-8 of each text, a text longer than MAX_PIECE cut at whitespace, with their record."""
    pieces, owners = [], []
    for record, raw in enumerate(encoded):
        data = raw.lower()
        while len(data) > MAX_PIECE:
            cut = max(data.rfind(b" ", 0, MAX_PIECE), data.rfind(b"\n", 0, MAX_PIECE))
            cut = cut if cut > 0 else MAX_PIECE
            pieces.append(data[:cut])
            owners.append(record)
            data = data[cut:]
        pieces.append(data)
        owners.append(record)
    return pieces, owners


def word_shingles(encoded: Sequence[bytes]) -> tuple[U64, npt.NDArray[np.int64]]:
    """Hashes of WORD_SHINGLE-word shingles of each text (words split at ASCII whitespace), with their record.

    A shingle's hash is the polynomial hash (modulo 2**32) of its bytes from its first word's start to its
    last word's end, from prefix sums of byte * P**position over the batch; a text of fewer words has one
    shingle, all of it.
    """
    pieces, owners = _pieces(encoded)
    data = np.frombuffer(b"\n" + b"\n".join(pieces) + b"\n", dtype=np.uint8)
    up, down = _POWERS.need(data.size)
    word = data > 32
    edges = np.flatnonzero(word[1:] != word[:-1]) + 1  # the data starts and ends outside a word: start, end, ...
    starts, ends = edges[0::2], edges[1::2]
    bounds = np.cumsum([len(p) + 1 for p in pieces])
    per_piece = np.diff(np.searchsorted(starts, bounds), prepend=0)
    owner = np.repeat(np.asarray(owners, dtype=np.int64), per_piece)
    n = WORD_SHINGLE
    span = max(starts.size - n + 1, 0)
    whole = owner[:span] == owner[n - 1 : n - 1 + span]
    first, last, gram_owner = starts[:span][whole], ends[n - 1 :][whole], owner[:span][whole]
    words = np.bincount(owner, minlength=len(encoded))
    short = np.flatnonzero((words > 0) & (words < n))
    if short.size:  # fewer words than a shingle: the whole text is one
        head = np.searchsorted(owner, short)
        first = np.concatenate([first, starts[head]])
        last = np.concatenate([last, ends[head + words[short] - 1]])
        gram_owner = np.concatenate([gram_owner, short])
        order = np.argsort(gram_owner, kind="stable")
        first, last, gram_owner = first[order], last[order], gram_owner[order]
    with np.errstate(over="ignore"):
        prefix = np.empty(data.size + 1, dtype=np.uint32)
        prefix[0] = 0
        np.multiply(data, up[: data.size], out=prefix[1:])
        np.cumsum(prefix, out=prefix)
        grams = ((prefix[last] - prefix[first]) * down[first]).astype(np.uint64)
        grams |= (last - first).astype(np.uint64) << np.uint64(32)
    return _mix(grams), gram_owner


def char_shingles(texts: Sequence[str]) -> tuple[U64, npt.NDArray[np.int64]]:
    """Hashes of CHAR_SHINGLE-character shingles of each text (whitespace left out), with their record."""
    points = np.frombuffer("".join(texts).encode("utf-32-le"), dtype=np.uint32)
    owner = np.repeat(np.arange(len(texts), dtype=np.int64), [len(t) for t in texts])
    keep = (points > 32) & (points != 0x3000) & (points != 0xA0)
    tokens = _mix(points[keep].astype(np.uint64))
    return _ngrams(tokens, owner[keep], len(texts), CHAR_SHINGLE)


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
    for which, grams, owner in parts:
        counts = np.bincount(owner, minlength=which.size)
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
