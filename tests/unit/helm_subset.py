"""Render AWS's launcher template (`../shared/reference/nova-launcher/training.yaml`) as `helm template` would.

Only the Go-template forms that file uses: `if`/`else`/`end` on values (plus `or` and
`gt (int (default 0 X)) 0`), `range` over maps (sorted keys, as Go does) and lists, and `{{ X }}`,
`{{ X | quote }}` substitutions. Anything else fails loudly, so a changed template cannot pass by accident.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

_ACTION = re.compile(r"\{\{-?\s*(.*?)\s*-?\}\}")
_LINE_ACTION = re.compile(r"^\s*\{\{-?\s*(.*?)\s*-?\}\}\s*$")


@dataclass
class _Block:
    head: str  # "if ...", "range ...", or "" for the root
    body: list[Any] = field(default_factory=list)
    orelse: list[Any] = field(default_factory=list)
    in_else: bool = False


def render(template: str, values: dict[str, Any]) -> str:
    """The template rendered with `values` (the chart's values: `.Values`)."""
    root = _parse(template.splitlines())
    return "\n".join(_render(root.body, {".Values": values, ".": None}))


def _parse(lines: list[str]) -> _Block:
    stack = [_Block("")]
    for line in lines:
        match = _LINE_ACTION.match(line)
        action = match[1] if match else None
        if action is not None and action.startswith(("if ", "range ")):
            stack.append(_Block(action))
        elif action == "else":
            stack[-1].in_else = True
        elif action == "end":
            block = stack.pop()
            (stack[-1].orelse if stack[-1].in_else else stack[-1].body).append(block)
        elif action is not None and ":=" in action and not action.startswith(("if", "range")):
            (stack[-1].orelse if stack[-1].in_else else stack[-1].body).append(("assign", action))
        else:
            (stack[-1].orelse if stack[-1].in_else else stack[-1].body).append(line)
    if len(stack) != 1:
        raise ValueError(f"unbalanced template: {len(stack) - 1} blocks not ended")
    return stack[0]


def _render(nodes: list[Any], scope: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for node in nodes:
        if isinstance(node, tuple):
            name, expr = (part.strip() for part in node[1].split(":=", 1))
            scope[name] = _value(expr, scope)
        elif isinstance(node, _Block):
            out += _block(node, scope)
        else:
            out.append(_ACTION.sub(lambda m: _substitute(m[1], scope), node))
    return out


def _block(block: _Block, scope: dict[str, Any]) -> list[str]:
    kind, _, expr = block.head.partition(" ")
    if kind == "if":
        return _render(block.body if _truthy(_value(expr, scope)) else block.orelse, scope)
    variables, _, source = expr.rpartition(":=") if ":=" in expr else ("", "", expr)
    items = _value(source.strip(), scope)
    names = [v.strip() for v in variables.split(",") if v.strip()]
    pairs = sorted(items.items()) if isinstance(items, dict) else list(enumerate(items or []))
    out: list[str] = []
    for key, value in pairs:
        inner = dict(scope)
        inner["."] = value
        if len(names) == 2:
            inner[names[0]], inner[names[1]] = key, value
        elif len(names) == 1:
            inner[names[0]] = value
        out += _render(block.body, inner)
    return out


def _substitute(expr: str, scope: dict[str, Any]) -> str:
    quote = expr.endswith("| quote")
    value = _value(expr.removesuffix("| quote").strip(), scope)
    if quote:
        return json.dumps("" if value is None else str(value))
    return "" if value is None else str(value)


def _value(expr: str, scope: dict[str, Any]) -> Any:
    expr = expr.strip()
    if expr.startswith("(") and expr.endswith(")"):
        return _value(expr[1:-1], scope)
    words = _words(expr)
    if len(words) > 1:
        function, args = words[0], [_value(w, scope) for w in words[1:]]
        if function == "or":
            return next((a for a in args if _truthy(a)), args[-1])
        if function == "gt":
            return args[0] > args[1]
        if function == "int":
            return int(args[0] or 0)
        if function == "default":
            return args[1] if _truthy(args[1]) else args[0]
        raise ValueError(f"template function not supported here: {expr!r}")
    if re.fullmatch(r"-?[0-9]+", expr):
        return int(expr)
    if expr == ".":
        return scope["."]
    head, *path = expr.split(".") if expr.startswith("$") else [".Values", *expr.split(".")[2:]]
    if head not in scope:
        raise ValueError(f"unknown template variable {head!r} in {expr!r}")
    value = scope[head]
    for part in path:
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _words(expr: str) -> list[str]:
    words, depth, current = [], 0, ""
    for char in expr:
        if char == " " and depth == 0:
            if current:
                words.append(current)
            current = ""
            continue
        depth += {"(": 1, ")": -1}.get(char, 0)
        current += char
    return [*words, current] if current else words


def _truthy(value: Any) -> bool:
    return bool(value)
