"""What a block path returns for a block whose every line is a valid record."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(slots=True)
class BlockRecords:
    """Per-record facts: text hashes (and normalised ones), UTF-8 bytes and characters of each text."""

    hashes: npt.NDArray[np.uint64]
    norm_hashes: npt.NDArray[np.uint64] | None
    text_bytes: npt.NDArray[np.int64]
    characters: npt.NDArray[np.int64]
