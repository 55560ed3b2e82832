"""Where the CLI keeps what it can rebuild: $XDG_CACHE_HOME/cpt (by default ~/.cache/cpt)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_home() -> Path:
    """The folder of everything cpt caches on this machine."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cpt"
