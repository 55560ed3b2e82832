"""UTF-8 validation in time proportional to the non-ASCII bytes of a buffer."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def non_ascii_characters(data: npt.NDArray[np.uint8], high: npt.NDArray[np.int64]) -> int | None:
    """Number of characters the non-ASCII bytes of `data` encode, or None when they are not valid UTF-8.

    `high` holds the sorted offsets of every byte >= 0x80. A multi-byte sequence never contains an
    ASCII byte, so the buffer is valid exactly when each run of adjacent non-ASCII bytes is: the runs
    are joined with a NUL between them and given to Python's strict decoder.
    """
    if high.size == 0:
        return 0
    breaks = np.flatnonzero(np.diff(high) != 1) + 1
    joined = np.insert(data[high], breaks, 0).tobytes()
    try:
        decoded = joined.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return len(decoded) - breaks.size
