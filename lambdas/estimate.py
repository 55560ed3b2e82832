"""Estimate state: hours and instance-hours; BudgetExceeded stops the run before any spend."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field

from lambdas.runtime import env, pipeline_handler
from novacpt.steps.estimate import estimate_step


class EstimateEnv(BaseModel):
    """Budget and price, both optional."""

    model_config = ConfigDict(extra="ignore")
    budget_instance_hours: float | None = Field(default=None, gt=0)
    price_per_instance_hour: float | None = Field(default=None, gt=0)


class EstimateEvent(BaseModel):
    """The run summary and the dataset summaries."""

    recipe: dict[str, Any]
    datasets: list[dict[str, Any]]


@pipeline_handler(EstimateEvent)
def handler(event: EstimateEvent, context: LambdaContext) -> dict[str, Any]:
    """The estimate of this run."""
    settings = env(EstimateEnv)
    return estimate_step(
        event.recipe,
        event.datasets,
        budget_instance_hours=settings.budget_instance_hours,
        price_per_instance_hour=settings.price_per_instance_hour,
    )
