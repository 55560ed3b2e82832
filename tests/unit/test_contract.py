"""The run contract: a recipe ValidateRecipe proved crosses every later state without being validated again."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

import novacpt.recipe.model as recipe_model
from novacpt.contract import RecipeSummary, RunState
from tests.examples import recipe_summary


@pytest.mark.parametrize("recipe_file", ["nova_lite_cpt.yaml", "nova_lite_2_cpt.yaml"])
def test_the_recipe_read_back_from_the_state_equals_the_one_proved(recipe_file: str) -> None:
    summary = recipe_summary(recipe_file)
    wire = RecipeSummary.model_validate_json(summary.model_dump_json())
    assert type(wire.recipe) is type(summary.recipe)
    assert wire.recipe == summary.recipe
    assert wire.model_dump(mode="json") == summary.model_dump(mode="json")  # the keys set stay the keys set
    assert RunState.model_validate({"recipe": summary.model_dump(mode="json")}).recipe == summary


def test_later_states_do_not_run_the_recipe_rules_again(monkeypatch: pytest.MonkeyPatch) -> None:
    wire = recipe_summary().model_dump_json()
    calls: list[str] = []
    rules = recipe_model.cross_field_problems
    monkeypatch.setattr(
        recipe_model, "cross_field_problems", lambda **kw: calls.append(kw["model_type"]) or rules(**kw)
    )
    recipe_summary()  # ValidateRecipe proves the rules: they run
    assert calls
    calls.clear()
    RecipeSummary.model_validate_json(wire)  # every later state: they do not
    RunState.model_validate_json('{"recipe": ' + wire + "}")
    assert calls == []


def test_a_key_no_recipe_has_is_refused_in_the_state() -> None:
    state = recipe_summary().model_dump(mode="json")
    state["recipe"]["training_config"]["trainer"]["max_epoch"] = 2
    with pytest.raises(ValidationError, match="'max_epoch' is no key of TrainerConfig"):
        RecipeSummary.model_validate(state)
