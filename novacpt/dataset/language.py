"""Language identification of records: py3langid, whose model ships inside its wheel.

Only the first SAMPLE_BYTES bytes of a record's UTF-8 are read (about 64 Latin or 21 CJK characters:
enough to tell a language; the rest of the record changes no other figure). Nothing is downloaded.

Many samples are classified together: py3langid's byte automaton walks every sample at once with
numpy (one step a byte position instead of one Python step a byte), then each sample is scored with
py3langid's own expression on its features in py3langid's order, so the answer is `classify`'s.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from functools import cache
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from py3langid.langid import MODEL_FILE, RAW_FLOOR, LanguageIdentifier

SAMPLE_BYTES: Final = 64
UNKNOWN: Final = "unknown"


class _Model:
    """py3langid's model as numpy arrays."""

    def __init__(self) -> None:
        identifier: Any = LanguageIdentifier.from_model_file(MODEL_FILE)
        self.identifier = identifier
        self.next_move = np.frombuffer(identifier.tk_nextmove, dtype=np.dtype(identifier.tk_nextmove.typecode))
        self.row_base = np.asarray(self.identifier._rowbase, dtype=np.int64)
        self.output = np.asarray(self.identifier.tk_output, dtype=np.int64)
        self.classes = list(self.identifier.nb_classes)

    def features(self, samples: Sequence[bytes]) -> npt.NDArray[np.int64]:
        """(samples, longest) array of the feature each byte's state emits (-1: none, or past the end)."""
        longest = max(len(s) for s in samples)
        lengths = np.fromiter((len(s) for s in samples), dtype=np.int64, count=len(samples))
        order = np.argsort(-lengths, kind="stable")  # the samples still walking are always a prefix
        ranked = [samples[i] for i in order.tolist()]
        text = np.frombuffer(b"".join(s.ljust(longest, b"\0") for s in ranked), dtype=np.uint8)
        columns = np.ascontiguousarray(text.reshape(len(samples), longest).T).astype(np.int64)
        walking = (lengths[order][None, :] > np.arange(longest)[:, None]).sum(axis=1).tolist()
        state = np.zeros(len(samples), dtype=np.int64)
        emitted = np.full((longest, len(samples)), -1, dtype=np.int64)
        for at, count in enumerate(walking):
            moved = self.next_move[self.row_base[state[:count]] + columns[at, :count]]
            state[:count] = moved
            emitted[at, :count] = self.output[moved]
        found = np.empty_like(emitted.T)
        found[order] = emitted.T
        return found

    def classify(self, samples: Sequence[bytes]) -> list[str]:
        """py3langid's `classify(sample)[0]` of each sample."""
        identifier = self.identifier
        emitted = self.features([identifier._encode(s) for s in samples])
        sample, at = np.nonzero(emitted >= 0)  # by sample, then by position
        feature = emitted[sample, at]
        # (sample, feature) groups; a group's first member is where the sample first meets the feature
        ranked = np.lexsort((feature, sample))
        key = sample[ranked] * self.output.size + feature[ranked]
        heads = np.flatnonzero(np.diff(key, prepend=-1))
        counts = np.diff(heads, append=key.size)
        heads_at = at[ranked][heads]
        # py3langid counts a sample's features in the order it first meets them
        order = np.lexsort((heads_at, sample[ranked][heads]))
        owner = sample[ranked][heads][order]
        index = feature[ranked][heads][order].astype(np.intp)
        weights = np.log1p(counts[order].astype(np.float32))
        rows = identifier.nb_ptc[index].astype(np.float32)  # what `@` would cast to, once for all samples
        scores = np.full((len(samples), len(self.classes)), RAW_FLOOR, dtype=np.float32)
        bounds = np.searchsorted(owner, np.arange(len(samples) + 1)).tolist()
        for row, (start, end) in enumerate(itertools.pairwise(bounds)):
            if end > start:
                scores[row] = weights[start:end] @ rows[start:end] + identifier.nb_pc
        for i, j in identifier._alias_pairs:
            scores[:, i] = np.maximum(scores[:, i], scores[:, j])
            scores[:, j] = RAW_FLOOR
        return [self.classes[i] for i in scores.argmax(axis=1).tolist()]


@cache
def _model() -> _Model:
    return _Model()


def languages_of(encoded: Sequence[bytes]) -> list[str]:
    """The most likely language code (ISO 639-1 where one exists) of each UTF-8 text's first bytes."""
    samples = [data[:SAMPLE_BYTES] for data in encoded]
    known = [i for i, s in enumerate(samples) if s.strip()]
    found = [UNKNOWN] * len(samples)
    if known:
        for i, code in zip(known, _model().classify([samples[i] for i in known]), strict=True):
            found[i] = code
    return found
