"""Follow a Step Functions execution: report each state as it is entered, until the execution ends."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def follow_execution(
    sfn: Any,
    arn: str,
    *,
    on_state: Callable[[str], None] = lambda _: None,
    poll_seconds: float = 2.0,
    timeout_s: float | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """The final DescribeExecution answer and the states entered, in order (TimeoutError past timeout_s)."""
    seen_events = 0
    states: list[str] = []
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while True:
        description = sfn.describe_execution(executionArn=arn)
        events: list[dict[str, Any]] = []
        for page in sfn.get_paginator("get_execution_history").paginate(executionArn=arn):
            events += page["events"]
        for event in events[seen_events:]:
            details = event.get("stateEnteredEventDetails")
            if details:
                states.append(details["name"])
                on_state(details["name"])
        seen_events = len(events)
        if description["status"] != "RUNNING":
            return description, states
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError(f"execution {arn} still running after {timeout_s:g} s")
        time.sleep(poll_seconds)
