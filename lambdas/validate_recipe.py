"""ValidateRecipe state: the recipe from S3, its empty paths filled, every rule and path checked."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lambdas.runtime import deployment, pipeline_handler, s3
from novacpt.kernel.errors import RecipeInvalid
from novacpt.steps.recipe import validate_recipe_step

CONSOLE_EXAMPLE = '{"recipe_s3_uri": "s3://<data bucket>/jobs/<job>/recipe.yaml", "overrides": {"dotted.key": 1}}'


class RunInput(BaseModel):
    """The execution input: what a console user types, or what the trigger sends."""

    model_config = ConfigDict(extra="forbid")
    recipe_s3_uri: str = Field(min_length=1)
    overrides: dict[str, Any] = Field(default_factory=dict)
    source_version_id: str | None = None


class ValidateRecipeEvent(BaseModel):
    """The raw execution input, checked here so that a mistyped console input gets a clear error."""

    input: dict[str, Any]
    execution_name: str


def run_input(raw: dict[str, Any]) -> RunInput:
    """The execution input, or RecipeInvalid saying which field is wrong and what is expected."""
    try:
        return RunInput.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'input'}: {e['msg']}" for e in exc.errors())
        raise RecipeInvalid(f"execution input: {problems}. Expected {CONSOLE_EXAMPLE}") from None


@pipeline_handler(ValidateRecipeEvent)
def handler(event: ValidateRecipeEvent, context: LambdaContext) -> dict[str, Any]:
    """The run's summary for the next states (RecipeInvalid when any rule is broken)."""
    request = run_input(event.input)
    return validate_recipe_step(
        s3(), deployment(), recipe_uri=request.recipe_s3_uri, overrides=request.overrides, run_id=event.execution_name
    )
