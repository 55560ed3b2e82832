"""Shared test helpers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
# Powertools reads these when lambdas.runtime creates its Logger, Tracer and Metrics (at import),
# so they are set here, before any test module imports a handler.
for _name, _value in {
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_NAMESPACE": "NovaCpt",
    "POWERTOOLS_SERVICE_NAME": "test",
    "POWERTOOLS_DEV": "false",
}.items():
    os.environ.setdefault(_name, _value)

ROOT = Path(__file__).resolve().parents[1]
# `../shared` beside the checkout; NOVA_CPT_SHARED names it when the suite runs from a copy elsewhere
# (`make mutate` runs it from the mutation tool's `mutants/` folder).
SHARED_REFERENCE = Path(os.environ.get("NOVA_CPT_SHARED") or ROOT.parent / "shared") / "reference"


@pytest.fixture
def reference_dir() -> Path:
    """`../shared/reference`, or skip when this checkout has no shared folder beside it."""
    if not SHARED_REFERENCE.is_dir():
        pytest.skip(f"reference files not found at {SHARED_REFERENCE} (../shared is absent)")
    return SHARED_REFERENCE
