"""Event shapes several handlers share (the state machine passes them)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class RecipeEvent(BaseModel):
    """The run summary from ValidateRecipe."""

    recipe: dict[str, Any]


class StateEvent(BaseModel):
    """The whole state of the run, at whatever point it is (clean-up steps)."""

    state: dict[str, Any]


class OutcomeEvent(BaseModel):
    """The whole state of the run, its outcome and its execution."""

    state: dict[str, Any]
    succeeded: bool
    execution_arn: str
