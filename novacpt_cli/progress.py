"""A progress bar for reading large local files, shown only on a terminal."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from rich.progress import Progress

PROGRESS_MIN_BYTES = 100 * 1024 * 1024


@contextmanager
def open_with_progress(path: Path, label: str) -> Iterator[BinaryIO]:
    """Open `path` for binary reading; files over 100 MB show a bar on an interactive stderr."""
    size = path.stat().st_size
    if size < PROGRESS_MIN_BYTES or not sys.stderr.isatty():
        with open(path, "rb", buffering=0) as stream:
            yield stream
        return
    with Progress(transient=True) as progress, progress.open(path, "rb", description=label) as stream:
        yield stream
