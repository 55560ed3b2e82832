"""Preflight: the checks before any capacity is asked for (novacpt.adapters.preflight), as a pipeline step."""

from __future__ import annotations

from collections.abc import Callable

from novacpt.adapters.preflight import Check, failures
from novacpt.contract import PreflightResult, RecipeSummary
from novacpt.kernel.errors import PreflightFailed

Checks = Callable[[int, str], list[Check]]  # (replicas, model key) -> checks


def preflight_step(checks: Checks, recipe: RecipeSummary) -> PreflightResult:
    """Run the checks for the run's replicas and model; PreflightFailed names each failure on its own line."""
    results = checks(recipe.replicas, recipe.model)
    problems = failures(results)
    if problems:
        count = sum(1 for c in results if not c.ok)
        raise PreflightFailed(f"{count} check(s) failed before any capacity was asked for:\n{problems}")
    return PreflightResult(checks=[c.to_dict() for c in results])
