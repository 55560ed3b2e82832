"""Shared test helpers."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import aws_calls

ROOT = Path(__file__).resolve().parents[1]

# The environment of every test, set once here (before any test module imports a handler or makes a client):
# Powertools reads its settings when lambdas.runtime creates its Logger, Tracer and Metrics (at import), and
# fake credentials and a region keep every AWS call on moto or a Stubber. What cpt caches (py3langid's
# unpacked model) goes to the checkout's git-ignored `.build`, not the user's home. Fixtures add only their
# own values.
os.environ.update(
    {
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "NovaCpt",
        "POWERTOOLS_SERVICE_NAME": "test",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "POWERTOOLS_DEV": "false",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_EC2_METADATA_DISABLED": "true",
        "XDG_CACHE_HOME": str(ROOT / ".build" / "test-cache"),
    }
)
for _name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
    os.environ.pop(_name, None)

# Every botocore session made from here on records its calls and checks the S3 contract (tests/aws_calls.py).
aws_calls.install()

# `../shared` beside the checkout; NOVA_CPT_SHARED names it when the suite runs from a copy elsewhere
# (`make mutate` runs it from the mutation tool's `mutants/` folder).
SHARED_REFERENCE = Path(os.environ.get("NOVA_CPT_SHARED") or ROOT.parent / "shared") / "reference"


@pytest.fixture
def reference_dir() -> Path:
    """`../shared/reference`, or skip when this checkout has no shared folder beside it."""
    if not SHARED_REFERENCE.is_dir():
        pytest.skip(f"reference files not found at {SHARED_REFERENCE} (../shared is absent)")
    return SHARED_REFERENCE


@pytest.fixture(autouse=True)
def aws_contract() -> Iterator[aws_calls.Recorder]:
    """The AWS calls of this test; the test fails if a call of the product broke the S3 contract."""
    aws_calls.RECORDER.reset()
    yield aws_calls.RECORDER
    violations = aws_calls.RECORDER.take_violations()
    aws_calls.RECORDER.reset()
    if violations:
        pytest.fail("S3 contract broken:\n  " + "\n  ".join(violations), pytrace=False)


@pytest.fixture(autouse=True)
def no_metrics_from_earlier_tests() -> None:
    """Powertools keeps metrics added outside a flushing handler in one process-wide store: start each test empty."""
    runtime = sys.modules.get("lambdas.runtime")
    if runtime is not None:
        runtime.metrics.clear_metrics()
