"""Preflight: the checks before any capacity is asked for (novacpt.adapters.preflight), as a pipeline step."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from novacpt.adapters.preflight import Check, failures
from novacpt.kernel.errors import PreflightFailed

Checks = Callable[[int, str], list[Check]]  # (replicas, model key) -> checks


def preflight_step(checks: Checks, recipe: dict[str, Any]) -> dict[str, Any]:
    """Run the checks for the run's replicas and model; PreflightFailed names each failure on its own line."""
    results = checks(int(recipe["replicas"]), str(recipe["model"]))
    problems = failures(results)
    if problems:
        count = sum(1 for c in results if not c.ok)
        raise PreflightFailed(f"{count} check(s) failed before any capacity was asked for:\n{problems}")
    return {"checks": [c.to_dict() for c in results]}
