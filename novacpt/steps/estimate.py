"""Estimate: the run's plan (the same code as `cpt plan`); stop before any spend when over budget."""

from __future__ import annotations

from novacpt.contract import DatasetSummary, EstimateResult, RecipeSummary
from novacpt.kernel.errors import BudgetExceeded
from novacpt.plan import PlanInputs, make_plan

PIPELINE_TOKEN_ESTIMATE = "estimated_tokens of the dataset validation report"


def estimate_step(
    recipe: RecipeSummary,
    datasets: list[DatasetSummary],
    *,
    budget_instance_hours: float | None,
    price_per_instance_hour: float | None,
) -> EstimateResult:
    """The plan of the training dataset's tokens; BudgetExceeded when the recipe as written is over the budget."""
    tokens = sum(d.estimated_tokens for d in datasets if d.role == "train")
    inputs = PlanInputs.from_recipe(recipe.recipe)  # the recipe ValidateRecipe proved, as it travels
    plan = make_plan(
        inputs, tokens=tokens, token_estimate=PIPELINE_TOKEN_ESTIMATE, price_per_instance_hour=price_per_instance_hour
    )
    run = plan.recipe_run
    if budget_instance_hours is not None and run.instance_hours > budget_instance_hours:
        raise BudgetExceeded(
            f"estimated {run.instance_hours:.1f} P5 instance-hours ({run.hours:.2f} h of {run.steps} steps on "
            f"{plan.replicas} instances) is over the budget of {budget_instance_hours:g}: reduce steps, epochs "
            "or replicas, or raise budget_instance_hours in cdk.json"
        )
    summary = plan.to_dict()
    summary.pop("max_steps")
    return EstimateResult.model_validate(
        {
            **summary,
            # What this run will cost (the recipe as written), as the notification and run.json show it.
            "hours": run.hours,
            "instance_hours": run.instance_hours,
            "cost_usd": run.cost_usd,
            "steps": run.steps,
            "suggested_max_steps": plan.max_steps,
        }
    )
