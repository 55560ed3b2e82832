"""Every AWS call made in a test, recorded by a botocore event hook, and the S3 contract checked on each.

`install()` (tests/conftest.py, before any client exists) adds one `provide-client-params` handler to
every botocore session. For each call it records the service, operation, parameters and which emulated
Lambda function made it (if any), and checks the S3 contract on the calls of the product (novacpt,
novacpt_cli, lambdas; not the tests' own set-up calls, nor the emulator's):
- every S3 operation that takes ExpectedBucketOwner carries it, and copies carry ExpectedSourceBucketOwner;
- a ranged read of a dataset (a shard read: GetObject with Range on a .jsonl key) names its VersionId.
A broken rule raises ContractViolation in the call and is recorded; the conftest fixture fails the test.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore import handlers

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = tuple(str(ROOT / name) + "/" for name in ("novacpt", "novacpt_cli", "lambdas"))
_OURS = str(ROOT) + "/"
_VENV = str(ROOT / ".venv") + "/"


class ContractViolation(AssertionError):
    """An AWS call of the product breaks the S3 contract."""


@dataclass(frozen=True)
class AwsCall:
    """One API call as botocore was asked to make it."""

    service: str  # botocore's service name: "s3", "sns", "stepfunctions", ...
    prefix: str  # the IAM action prefix: "s3", "sns", "states", ...
    operation: str  # "GetObject", "Publish", ...
    params: dict[str, Any]
    caller: str  # the product file that made the call ("" for a test's or the emulator's own call)
    function: str | None  # the emulated Lambda function whose handler made it


class Recorder:
    """The calls and contract violations of the running test (threads included)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls: list[AwsCall] = []
        self.violations: list[str] = []
        self._function: tuple[str, int] | None = None  # (function, thread id) of the running handler

    def reset(self) -> None:
        with self._lock:
            self.calls, self.violations, self._function = [], [], None

    @contextmanager
    def in_function(self, name: str) -> Iterator[None]:
        """Calls made by this thread (and its worker threads) belong to function `name` while active."""
        with self._lock:
            previous, self._function = self._function, (name, threading.get_ident())
        try:
            yield
        finally:
            with self._lock:
                self._function = previous

    def function_of_this_thread(self) -> str | None:
        running = self._function
        if running is None:
            return None
        name, thread = running
        current = threading.current_thread()
        # The handler's own thread, or a pool worker it started (the ranged reader's parallel GETs).
        if current.ident == thread or current.name.startswith("ThreadPoolExecutor"):
            return name
        return None

    def add(self, call: AwsCall, problems: list[str]) -> None:
        with self._lock:
            self.calls.append(call)
            self.violations += problems

    def take_violations(self) -> list[str]:
        with self._lock:
            found, self.violations = self.violations, []
        return found


RECORDER = Recorder()


def product_caller() -> str:
    """The innermost frame of this checkout outside the tests and the dev tools, if it is product code."""
    frame = sys._getframe(2)
    while frame is not None:
        name = frame.f_code.co_filename
        if name.startswith(_OURS) and not name.startswith(_VENV):
            return name[len(_OURS) :] if name.startswith(PRODUCT) else ""
        frame = frame.f_back  # type: ignore[assignment]
    return ""


def s3_contract_problems(operation: str, params: dict[str, Any], members: set[str]) -> list[str]:
    """What breaks the S3 contract in one call of the product (empty when nothing does)."""
    where = f"S3 {operation} of s3://{params.get('Bucket', '?')}/{params.get('Key', '')}"
    problems = []
    if "ExpectedBucketOwner" in members and not params.get("ExpectedBucketOwner"):
        problems.append(f"{where} without ExpectedBucketOwner")
    if "ExpectedSourceBucketOwner" in members and not params.get("ExpectedSourceBucketOwner"):
        problems.append(f"{where} without ExpectedSourceBucketOwner")
    is_shard_read = operation == "GetObject" and "Range" in params and str(params.get("Key", "")).endswith(".jsonl")
    if is_shard_read and not params.get("VersionId"):
        problems.append(f"{where} (a shard read, {params['Range']}) without VersionId")
    return problems


def _on_call(params: dict[str, Any], model: Any, **_: Any) -> None:
    service_model = model.service_model
    caller = product_caller()
    call = AwsCall(
        service=service_model.service_name,
        prefix=service_model.signing_name or service_model.endpoint_prefix,
        operation=model.name,
        params=dict(params),
        caller=caller,
        function=RECORDER.function_of_this_thread(),
    )
    problems: list[str] = []
    if caller and call.service == "s3":
        members = set(model.input_shape.members) if model.input_shape is not None else set()
        problems = [f"{p} (by {caller})" for p in s3_contract_problems(model.name, params, members)]
    RECORDER.add(call, problems)
    if problems:
        raise ContractViolation("; ".join(problems))


def install() -> None:
    """Register the hook on every botocore session created from now on."""
    entry = ("provide-client-params", _on_call)
    if entry not in handlers.BUILTIN_HANDLERS:
        handlers.BUILTIN_HANDLERS.append(entry)
