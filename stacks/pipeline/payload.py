"""Task payloads from the step input models (novacpt.contract): each key is a model's field name, never retyped."""

from __future__ import annotations

from typing import Any, Final

from aws_cdk import aws_stepfunctions as sfn
from pydantic import BaseModel

from novacpt.contract import RunState

CONTEXT: Final = {
    "input": "$$.Execution.Input",
    "execution_name": "$$.Execution.Name",
    "execution_arn": "$$.Execution.Id",
    "started_at": "$$.Execution.StartTime",
}
"""Input fields the execution's context object fills, by field name."""


def _fields(model: type[BaseModel], given: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(given) - set(model.model_fields))
    if unknown:
        raise KeyError(f"{model.__name__} has no field {', '.join(unknown)}")
    values: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        if name in given:
            if given[name] is not None:  # None: left out, the field's default applies
                values[name] = given[name]
        elif name in CONTEXT:
            values[name] = sfn.JsonPath.string_at(CONTEXT[name])
        elif info.annotation is RunState:
            values[name] = sfn.JsonPath.entire_payload
        elif name in RunState.model_fields:
            values[name] = sfn.JsonPath.string_at(RunState.path(name))
        elif info.is_required():
            raise KeyError(f"{model.__name__}.{name}: not in the run state or the context object; give its value")
    return values


def payload(model: type[BaseModel], **given: Any) -> sfn.TaskInput:
    """The payload of a step whose function parses `model`.

    Each field takes the value `given` under its name (None: left out, for its default), else the context
    object's (CONTEXT), else the whole run state (a `RunState` field), else the run state's field of the same
    name (`RunState.path`). A given name that is no field, or a required field nothing supplies, raises
    KeyError when the stack is built.
    """
    return sfn.TaskInput.from_object(_fields(model, given))


def item_selector(model: type[BaseModel], item: type[BaseModel]) -> dict[str, str]:
    """A Map's ItemSelector for `model`: the fields of `item` from the map's current item, the rest from the
    run state's fields of the same names (KeyError for a field it lacks)."""
    return {
        f"{name}.$": f"$$.Map.Item.Value.{name}" if name in item.model_fields else RunState.path(name)
        for name in model.model_fields
    }
