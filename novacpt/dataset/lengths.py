"""Record lengths in estimated tokens: an exact, mergeable histogram."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

# A per-script estimate from a text's UTF-8 bytes b and characters c: ceil((3b - c) / 8). It gives
# each character (3 x its UTF-8 length - 1) / 8 tokens: ASCII 1/4 (four characters a token, as BPE
# tokenizers do on English and code), 2-byte characters (accented Latin, Greek, Cyrillic, Arabic,
# Hebrew) 5/8, 3-byte characters (CJK ideographs, kana, Hangul, Thai, Indic scripts) 1 token each,
# 4-byte characters (emoji, rare ideographs) 11/8. It needs only two counts the scan keeps anyway.
TOKEN_ESTIMATE = "ceil((3 x UTF-8 bytes - characters) / 8) per text: 4 ASCII characters a token, 1 a CJK character"


def estimate_tokens(text_bytes: npt.NDArray[np.int64], characters: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Estimated tokens of each record from its UTF-8 length and its number of characters."""
    return (3 * text_bytes - characters + 7) // 8


class TokenHistogram:
    """Counts of records by estimated token length; exact percentiles, merges by addition."""

    def __init__(self) -> None:
        self.counts = np.zeros(0, dtype=np.int64)

    def add(self, tokens: npt.NDArray[np.int64]) -> None:
        """Count a batch of record lengths."""
        if tokens.size == 0:
            return
        self.merge_counts(np.bincount(tokens))

    def merge(self, other: TokenHistogram) -> None:
        """Add another histogram's counts."""
        self.merge_counts(other.counts)

    def merge_counts(self, counts: npt.NDArray[np.int64]) -> None:
        """Add counts indexed by token length."""
        if counts.size > self.counts.size:
            grown = np.zeros(counts.size, dtype=np.int64)
            grown[: self.counts.size] = self.counts
            self.counts = grown
        self.counts[: counts.size] += counts

    def total(self) -> int:
        """Number of records counted."""
        return int(self.counts.sum())

    def total_tokens(self) -> int:
        """Sum of the records' estimated tokens."""
        return int(np.arange(self.counts.size, dtype=np.int64) @ self.counts)

    def count_over(self, limit: int) -> int:
        """Records longer than `limit` tokens."""
        return int(self.counts[limit + 1 :].sum())

    def percentiles(self) -> dict[str, int] | None:
        """Nearest-rank p50, p90, p99 and the maximum, or None when empty."""
        n = self.total()
        if n == 0:
            return None
        cumulative = np.cumsum(self.counts)
        result = {}
        for name, q in (("p50", 50), ("p90", 90), ("p99", 99)):
            rank = -(-q * n // 100)  # ceil(q/100 * n)
            result[name] = int(np.searchsorted(cumulative, rank))
        result["max"] = int(np.flatnonzero(self.counts)[-1])
        return result

    def buckets(self) -> list[dict[str, int]]:
        """Record counts in power-of-two length ranges (0, 1, 2-3, 4-7, ...), up to the longest record."""
        result = []
        low = 0
        while low < self.counts.size:
            high = max(low, 2 * low - 1) if low else 0
            result.append({"min_tokens": low, "max_tokens": high, "records": int(self.counts[low : high + 1].sum())})
            low = high + 1
        return result
