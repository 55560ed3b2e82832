"""Shared test helpers."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_REFERENCE = ROOT.parent / "shared" / "reference"


@pytest.fixture
def reference_dir() -> Path:
    """`../shared/reference`, or skip when this checkout has no shared folder beside it."""
    if not SHARED_REFERENCE.is_dir():
        pytest.skip(f"reference files not found at {SHARED_REFERENCE} (../shared is absent)")
    return SHARED_REFERENCE
