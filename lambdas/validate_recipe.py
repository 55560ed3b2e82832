"""ValidateRecipe state: the recipe from S3, its empty paths filled, every rule and path checked."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, Field

from lambdas.runtime import deployment, logger, metrics, s3, tracer
from novacpt.pipeline.recipe_step import validate_recipe_step


class ValidateRecipeEvent(BaseModel):
    """The execution input (console or trigger) plus the execution's name."""

    recipe_s3_uri: str
    overrides: dict[str, Any] = Field(default_factory=dict)
    execution_name: str


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=ValidateRecipeEvent)
def handler(event: ValidateRecipeEvent, context: LambdaContext) -> dict[str, Any]:
    """The run's summary for the next states (RecipeInvalid when any rule is broken)."""
    return validate_recipe_step(
        s3(), deployment(), recipe_uri=event.recipe_s3_uri, overrides=event.overrides, run_id=event.execution_name
    )
