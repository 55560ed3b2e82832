"""Estimate state: hours and instance-hours; BudgetExceeded stops the run before any spend."""

from __future__ import annotations

from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.runtime import pipeline_handler, settings
from novacpt.contract import EstimateInput, EstimateResult
from novacpt.kernel.settings import EstimateSettings
from novacpt.steps.estimate import estimate_step


@pipeline_handler(EstimateInput)
def handler(event: EstimateInput, context: LambdaContext) -> EstimateResult:
    """The estimate of this run."""
    config = settings(EstimateSettings)
    return estimate_step(
        event.recipe,
        event.datasets,
        budget_instance_hours=config.budget_instance_hours,
        price_per_instance_hour=config.price_per_instance_hour,
    )
