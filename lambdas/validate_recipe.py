"""ValidateRecipe state: the recipe from S3, its empty paths filled, every rule and path checked, once."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from lambdas.runtime import pipeline_handler, s3, settings
from novacpt.contract import ExecutionInput, RecipeSummary, ValidateRecipeInput
from novacpt.kernel.errors import RecipeInvalid
from novacpt.kernel.settings import RecipeSettings
from novacpt.steps.recipe import validate_recipe_step


def run_input(raw: dict[str, Any]) -> ExecutionInput:
    """The execution input, or RecipeInvalid saying which field is wrong and what is expected."""
    try:
        return ExecutionInput.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'input'}: {e['msg']}" for e in exc.errors())
        raise RecipeInvalid(f"execution input: {problems}. Expected {ExecutionInput.EXAMPLE}") from None


@pipeline_handler(ValidateRecipeInput)
def handler(event: ValidateRecipeInput, context: LambdaContext) -> RecipeSummary:
    """The run's summary for the next states (RecipeInvalid when any rule is broken)."""
    return validate_recipe_step(s3(), settings(RecipeSettings), run_input(event.input), run_id=event.execution_name)
