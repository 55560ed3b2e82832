"""Estimate: hours and instance-hours of the run; stop before any spend when over budget."""

from __future__ import annotations

from typing import Any

from novacpt.catalog import BY_KEY
from novacpt.estimate import estimate_run
from novacpt.pipeline.errors import BudgetExceeded


def estimate_step(
    recipe: dict[str, Any],
    datasets: list[dict[str, Any]],
    *,
    budget_instance_hours: float | None,
    price_per_instance_hour: float | None,
) -> dict[str, Any]:
    """The estimate for the training dataset's records; BudgetExceeded when over the budget."""
    samples = sum(int(d["records"]) for d in datasets if d["role"] == "train")
    result = estimate_run(
        BY_KEY[recipe["model"]],
        samples=samples,
        epochs=int(recipe["max_epochs"]),
        replicas=int(recipe["replicas"]),
        price_per_instance_hour=price_per_instance_hour,
    )
    if budget_instance_hours is not None and result.instance_hours > budget_instance_hours:
        raise BudgetExceeded(
            f"estimated {result.instance_hours:.1f} P5 instance-hours ({result.hours:.2f} h on {result.replicas} "
            f"instances) is over the budget of {budget_instance_hours:g}: reduce samples, epochs or replicas, "
            "or raise budget_instance_hours in cdk.json"
        )
    return result.to_dict()
