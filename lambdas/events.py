"""Event shapes several handlers share: contract models, as the state machine passes them."""

from __future__ import annotations

from pydantic import BaseModel

from novacpt.contract import RecipeSummary, RunState


class RecipeEvent(BaseModel):
    """The run summary from ValidateRecipe."""

    recipe: RecipeSummary


class StateEvent(BaseModel):
    """The whole state of the run, at whatever point it is (clean-up steps)."""

    state: RunState


class OutcomeEvent(BaseModel):
    """The whole state of the run, its outcome and its execution."""

    state: RunState
    succeeded: bool
    execution_arn: str
