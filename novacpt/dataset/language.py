"""Language identification of records: py3langid, whose model ships inside its wheel.

Only the first SAMPLE_BYTES bytes of a record's UTF-8 are read (about 64 Latin or 21 CJK characters:
enough to tell a language; the rest of the record changes no other figure). Nothing is downloaded.

Many samples are classified together: py3langid's byte automaton walks every sample at once with
numpy (one step a byte position instead of one Python step a byte), then each sample is scored with
py3langid's own expression on its features in py3langid's order, so the answer is `classify`'s.

The wheel's model is xz-compressed (about half a CPU second to unpack): the first run on a machine
keeps the unpacked arrays under the cpt cache folder, keyed by the model file's SHA-256, and later
runs map them from there. Without a writable cache folder every run unpacks the model.
"""

from __future__ import annotations

import hashlib
import itertools
import shutil
import tempfile
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from py3langid.langid import MODEL_DIR, MODEL_FILE, RAW_FLOOR, LanguageIdentifier
from py3langid.modelio import load_model

from novacpt.kernel.cache import cache_home

SAMPLE_BYTES: Final = 64
UNKNOWN: Final = "unknown"
_ARRAYS: Final = ("ptc", "pc", "classes", "nextmove", "row", "output")  # load_model's tuple, in its order


def _model_arrays() -> tuple[npt.NDArray[Any], ...]:
    """py3langid's model as load_model returns it, as arrays: from the cache when it holds them."""
    source = MODEL_DIR / MODEL_FILE
    try:
        folder: Path | None = cache_home() / "py3langid" / hashlib.sha256(source.read_bytes()).hexdigest()[:32]
    except RuntimeError:  # no home folder to cache in
        folder = None
    if folder is not None and folder.is_dir():
        try:
            return tuple(np.load(folder / f"{name}.npy", mmap_mode="r", allow_pickle=False) for name in _ARRAYS)
        except (OSError, ValueError):
            shutil.rmtree(folder, ignore_errors=True)  # damaged: unpack and store again
    arrays = tuple(np.asarray(part) for part in load_model(source))
    if folder is not None:
        _keep(folder, arrays)
    return arrays


def _keep(folder: Path, arrays: tuple[npt.NDArray[Any], ...]) -> None:
    """Store the arrays in `folder`, whole or not at all (another process may store them first)."""
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=folder.parent))
    except OSError:
        return  # no cache: the next run unpacks the model again
    try:
        for name, array in zip(_ARRAYS, arrays, strict=True):
            np.save(staging / f"{name}.npy", array, allow_pickle=False)
        staging.rename(folder)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)


class _Model:
    """py3langid's model as numpy arrays."""

    def __init__(self) -> None:
        ptc, pc, classes, next_move, row, output = _model_arrays()
        self.identifier: Any = LanguageIdentifier(ptc, pc, classes.tolist(), next_move, output, tk_row=row.tolist())
        self.next_move = next_move
        self.row_base = row.astype(np.int64) << 8
        self.output = output.astype(np.int64)
        self.classes = classes.tolist()
        self.table = np.asarray(ptc)  # float16 (features, classes), mapped from the cache
        self.slot = np.full(self.table.shape[0], -1, dtype=np.int64)  # a feature's row in `rows`, once converted
        self.rows = np.empty((0, self.table.shape[1]), dtype=np.float32)
        self.filled = 0

    def rows_of(self, index: npt.NDArray[np.intp]) -> npt.NDArray[np.float32]:
        """The table's rows as float32 (what `@` casts them to), each feature converted once."""
        new = np.unique(index[self.slot[index] < 0])
        if new.size:
            if self.filled + new.size > len(self.rows):
                grown = np.empty(
                    (max(2 * len(self.rows), self.filled + new.size, 1024), self.rows.shape[1]), np.float32
                )
                grown[: self.filled] = self.rows[: self.filled]
                self.rows = grown
            self.rows[self.filled : self.filled + new.size] = self.table[new]
            self.slot[new] = np.arange(self.filled, self.filled + new.size)
            self.filled += new.size
        return self.rows[self.slot[index]]

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
        # (sample, feature) groups, each in position order: a group's head is where its sample first meets it
        ranked = np.argsort(sample * self.table.shape[0] + feature, kind="stable")
        key = sample[ranked] * self.table.shape[0] + feature[ranked]
        heads = np.flatnonzero(np.diff(key, prepend=-1))
        counts = np.diff(heads, append=key.size)
        first = ranked[heads]
        # py3langid counts a sample's features in the order it first meets them
        order = np.argsort(sample[first] * emitted.shape[1] + at[first])
        owner = sample[first][order]
        index = feature[first][order].astype(np.intp)
        weights = np.log1p(counts[order].astype(np.float32))
        rows = self.rows_of(index)
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
