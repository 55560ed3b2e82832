"""Make moto run a Lambda invocation as a call of the function's handler in this process."""

from __future__ import annotations

import importlib
import json
import os
import threading
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

from moto.awslambda.models import LambdaFunction

from lambdas import preflight as preflight_handler
from lambdas import runtime
from novacpt.kernel.ports import ClusterBackend
from novacpt.recipe import Recipe
from novacpt.steps.preflight import Checks
from novacpt_dev.fakes import FakeClusterSettings

# Handlers read their configuration from os.environ, which is process-wide: one invocation at a time.
_ONE_AT_A_TIME = threading.RLock()


@dataclass(frozen=True)
class FakeContext:
    """The parts of the Lambda context object the handlers (Powertools) read."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = ""

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


@dataclass
class Invocation:
    """One handler call: which function, with what, and how it ended."""

    function: str
    event: Any
    result: Any = None
    error: str | None = None


@contextmanager
def _environ(values: dict[str, str]) -> Iterator[None]:
    """`values` set in os.environ for the duration, then put back as they were.

    Only those keys change: other threads (moto's, the caller's) read os.environ meanwhile, and must
    never find a shared key such as AWS_DEFAULT_REGION missing for a moment.
    """
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def clear_handler_caches() -> None:
    """Forget what handlers cached from a previous call's environment (in Lambda, one container's life)."""
    runtime.deployment.cache_clear()
    runtime.s3.cache_clear()


def scripted_cluster() -> ClusterBackend[Recipe]:
    """The installed HyperPod fake, its jobs scripted by the call's environment (FAKE_JOB_STATES and so on)."""
    return FakeClusterSettings.from_environ(os.environ).cluster()


@contextmanager
def handlers_in_process(
    env: Callable[[str], dict[str, str]] | None = None,
    before_each: Callable[[], None] = clear_handler_caches,
    cluster: Callable[[], ClusterBackend[Recipe]] = scripted_cluster,
    preflight: Callable[[], Checks] = preflight_handler.region_checks,
    around: Callable[[str], AbstractContextManager[object]] = lambda _: nullcontext(),
) -> Iterator[list[Invocation]]:
    """While active, every moto Lambda invocation calls the handler named by the function's Handler.

    `env(function_name)` adds or overrides environment variables for one call (tests script the
    fake cluster and shorten the poll interval this way); `before_each` runs before each call;
    `cluster` makes the cluster the capacity and job handlers drive (there is no HyperPod in moto), and
    `preflight` the checks Preflight runs (by default only the region's images: no cluster to look at);
    each call runs inside `around(function_name)` (tests attribute the AWS calls they record this way).
    Yields the list of invocations, appended as they happen.
    """
    calls: list[Invocation] = []

    def invoke(self: LambdaFunction, event: Any = None) -> tuple[str, bool, str]:
        payload = json.loads(event) if isinstance(event, str | bytes) else (event or {})
        call = Invocation(self.function_name, payload)
        calls.append(call)
        variables = {**(self.environment_vars or {}), **(env(self.function_name) if env else {})}
        with _ONE_AT_A_TIME, _environ({k: str(v) for k, v in variables.items()}), around(self.function_name):
            before_each()
            module_name, _, attribute = str(self.handler).rpartition(".")
            handler = getattr(importlib.import_module(module_name), attribute)
            context = FakeContext(self.function_name, int(self.memory_size), self.function_arn)
            try:
                call.result = handler(payload, context)
            except Exception as exc:  # the handler's error becomes the Lambda's error, as in AWS
                call.error = f"{type(exc).__name__}: {exc}"
                body = {
                    "errorType": type(exc).__name__,
                    "errorMessage": str(exc),
                    "stackTrace": traceback.format_exception(exc)[-3:],
                }
                return json.dumps(body), True, ""
        return json.dumps(call.result), False, ""

    # Handlers swap os.environ (under the lock); moto's own threads create boto3 clients meanwhile, and
    # botocore reads proxy settings by iterating os.environ, which a swap can pull keys from (KeyError).
    # The emulator uses no proxy: those threads need not read the environment at all.
    with (
        mock.patch.object(LambdaFunction, "_invoke_lambda", invoke),
        mock.patch.object(runtime, "cluster_factory", cluster),
        mock.patch.object(preflight_handler, "checks_factory", preflight),
        mock.patch("botocore.endpoint.get_environ_proxies", return_value={}),
        mock.patch("botocore.utils.get_environ_proxies", return_value={}),
    ):
        yield calls
