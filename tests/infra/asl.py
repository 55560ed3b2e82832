"""A small Amazon States Language interpreter: what Step Functions would do with a definition, in process.

It covers the states the run state machine uses (Task, Pass, Wait, Choice, Map, Fail, Succeed) with
Step Functions' documented semantics for Parameters / ItemSelector (`.$` keys), ResultPath, Retry
(IntervalSeconds x BackoffRate^n, capped by MaxDelaySeconds, up to MaxAttempts retries) and Catch
(first matching catcher, `States.ALL` last). Lambda functions are Python callables; an exception
class's name is the error name, as with the pipeline's handlers. Waits are recorded, not slept.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

Function = Callable[[Any], Any]
STARTED = "2026-11-30T02:00:00.000Z"  # $$.Execution.StartTime of every run


class Failed(Exception):
    """A state failed with a Step Functions error name and cause."""

    def __init__(self, error: str, cause: str) -> None:
        super().__init__(f"{error}: {cause}")
        self.error, self.cause = error, cause


@dataclass
class Run:
    """What one execution did: states entered and left (name, output), functions invoked (name, payload) and
    the seconds waited so far at each call, waits, outcome."""

    states: list[str] = field(default_factory=list)
    exits: list[tuple[str, Any]] = field(default_factory=list)
    calls: list[tuple[str, Any]] = field(default_factory=list)
    clock: list[float] = field(default_factory=list)
    waits: list[tuple[str, float]] = field(default_factory=list)
    status: str = "RUNNING"
    output: Any = None
    error: str = ""
    cause: str = ""

    def invoked(self) -> list[str]:
        return [name for name, _ in self.calls]

    def payloads(self, function: str) -> list[Any]:
        return [payload for name, payload in self.calls if name == function]

    def waited_before(self, function: str) -> float:
        """Seconds the execution had waited (Wait states and retries) when it first invoked `function`."""
        return self.clock[self.invoked().index(function)]


def _get(path: str, data: Any, context: Mapping[str, Any]) -> Any:
    root, rest = (context, path[2:]) if path.startswith("$$") else (data, path[1:])
    value = root
    for part in filter(None, rest.split(".")):
        if not isinstance(value, Mapping) or part not in value:
            raise Failed("States.Runtime", f"path {path} not found")
        value = value[part]
    return value


def _set(data: Any, path: str | None, value: Any) -> Any:
    if path is None:
        return data  # ResultPath null: the input passes through
    if path == "$":
        return value
    result = copy.deepcopy(data)
    node = result
    parts = path[2:].split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    return result


def _template(template: Any, data: Any, context: Mapping[str, Any]) -> Any:
    if isinstance(template, dict):
        return {
            (k[:-2] if k.endswith(".$") else k): (
                _get(v, data, context) if k.endswith(".$") else _template(v, data, context)
            )
            for k, v in template.items()
        }
    if isinstance(template, list):
        return [_template(v, data, context) for v in template]
    return template


def _matches(names: list[str], error: str) -> bool:
    return error in names or ("States.ALL" in names and not error.startswith("States.Runtime"))


_CHOICE_TESTS = {"StringEquals": lambda a, b: a == b, "BooleanEquals": lambda a, b: a is b}


class Interpreter:
    """Runs one definition against `functions` (keyed by the function name in each Task's Resource ARN)."""

    def __init__(self, definition: Mapping[str, Any], functions: Mapping[str, Function], max_steps: int = 500):
        self.definition = definition
        self.functions = functions
        self.max_steps = max_steps

    def run(self, data: Any, *, name: str = "run-1", arn: str = "arn:aws:states:::execution:sm:run-1") -> Run:
        run = Run()
        context = {"Execution": {"Name": name, "Id": arn, "Input": copy.deepcopy(data), "StartTime": STARTED}}
        try:
            run.output = self._machine(self.definition, data, context, run)
            run.status = "SUCCEEDED"
        except Failed as failure:
            run.status, run.error, run.cause = "FAILED", failure.error, failure.cause
        return run

    def _machine(self, machine: Mapping[str, Any], data: Any, context: dict[str, Any], run: Run) -> Any:
        name = machine["StartAt"]
        for _ in range(self.max_steps):
            state = machine["States"][name]
            run.states.append(name)
            kind = state["Type"]
            if kind == "Succeed":
                return data
            if kind == "Fail":
                raise Failed(_get(state["ErrorPath"], data, context), _get(state["CausePath"], data, context))
            if kind == "Choice":
                name = self._choose(state, data, context)
                continue
            if kind == "Wait":
                run.waits.append((name, float(_get(state["SecondsPath"], data, context))))
            elif kind == "Pass":
                data = _set(data, state.get("ResultPath", "$"), copy.deepcopy(state.get("Result", data)))
            else:
                try:
                    result = self._with_retries(name, state, data, context, run)
                except Failed as failure:
                    catcher = next(
                        (c for c in state.get("Catch", []) if _matches(c["ErrorEquals"], failure.error)), None
                    )
                    if catcher is None:
                        raise
                    error = {"Error": failure.error, "Cause": failure.cause}
                    data, name = _set(data, catcher.get("ResultPath", "$"), error), catcher["Next"]
                    continue
                data = _set(data, state.get("ResultPath", "$"), result)
            run.exits.append((name, copy.deepcopy(data)))
            if state.get("End"):
                return data
            name = state["Next"]
        raise AssertionError(f"more than {self.max_steps} states: a loop that never ends")

    def _choose(self, state: Mapping[str, Any], data: Any, context: dict[str, Any]) -> str:
        for rule in state["Choices"]:
            (test,) = set(rule) & set(_CHOICE_TESTS)
            if _CHOICE_TESTS[test](_get(rule["Variable"], data, context), rule[test]):
                return str(rule["Next"])
        if "Default" not in state:
            raise Failed("States.NoChoiceMatched", "no choice matched")
        return str(state["Default"])

    def _with_retries(self, name: str, state: Mapping[str, Any], data: Any, context: dict[str, Any], run: Run) -> Any:
        attempts: dict[int, int] = {}
        while True:
            try:
                return self._execute(state, data, context, run)
            except Failed as failure:
                index = next(
                    (i for i, r in enumerate(state.get("Retry", [])) if _matches(r["ErrorEquals"], failure.error)), None
                )
                if index is None:
                    raise
                retrier = state["Retry"][index]
                done = attempts.get(index, 0)
                if done >= retrier.get("MaxAttempts", 3):
                    raise
                delay = retrier.get("IntervalSeconds", 1) * retrier.get("BackoffRate", 2.0) ** done
                run.waits.append((f"{name} retry", min(delay, retrier.get("MaxDelaySeconds", delay))))
                attempts[index] = done + 1

    def _execute(self, state: Mapping[str, Any], data: Any, context: dict[str, Any], run: Run) -> Any:
        if state["Type"] == "Map":
            items = _get(state.get("ItemsPath", "$"), data, context)
            results = []
            for index, item in enumerate(items):
                item_context = {**context, "Map": {"Item": {"Index": index, "Value": item}}}
                selected = _template(state["ItemSelector"], data, item_context) if "ItemSelector" in state else item
                results.append(self._machine(state["ItemProcessor"], selected, item_context, run))
            return results
        payload = _template(state["Parameters"], data, context) if "Parameters" in state else data
        function = str(state["Resource"]).rsplit(":", 1)[-1]
        run.calls.append((function, copy.deepcopy(payload)))
        run.clock.append(sum(seconds for _, seconds in run.waits))
        try:
            return copy.deepcopy(self.functions[function](payload))
        except Failed:
            raise
        except Exception as exc:
            raise Failed(type(exc).__name__, str(exc)) from exc
