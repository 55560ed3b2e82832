"""Safe, bounded YAML loading for recipes.

Differences from `yaml.safe_load`:
- YAML 1.2 scalars: `1e-5` is a float, only true/false are booleans (`yes` stays text),
  `010` is ten; timestamps, binary, sets and custom tags are refused.
- Duplicate keys are reported (with both line numbers) instead of silently dropped.
- Size, nesting and node count (after expanding aliases) are bounded, so hostile input
  such as "billion laughs" fails fast.
- Problems come back as `RecipeIssue`s; nothing raises.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from novacpt.recipe.fields import RecipeIssue, format_path

MAX_BYTES = 1_048_576
MAX_NODES = 10_000
MAX_DEPTH = 64

_MERGE_TAG = "tag:yaml.org,2002:merge"
# (tag, pattern, possible first characters); ints before floats, as the first match wins.
_RESOLVERS: tuple[tuple[str, str, list[str]], ...] = (
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", list("tTfF")),
    ("tag:yaml.org,2002:int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", list("-+0123456789")),
    (
        "tag:yaml.org,2002:float",
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        list("-+0123456789."),
    ),
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    (_MERGE_TAG, r"^<<$", ["<"]),
)
_KEPT_TAGS = {f"tag:yaml.org,2002:{name}" for name in ("null", "bool", "float", "str", "seq", "map")}


class _LimitError(Exception):
    """The document exceeds a size bound."""


class _RecipeLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 scalars, only plain data types, and bounded composition."""

    yaml_constructors: ClassVar[dict[str | None, Callable[..., Any]]] = {
        tag: fn for tag, fn in SafeConstructor.yaml_constructors.items() if tag in _KEPT_TAGS or tag is None
    }

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._composed = 0
        self._depth = 0

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        self._composed += 1
        self._depth += 1
        try:
            if self._composed > MAX_NODES:
                raise _LimitError(f"has more than {MAX_NODES:,} YAML nodes; a recipe needs far fewer")
            if self._depth > MAX_DEPTH:
                raise _LimitError(f"is nested more than {MAX_DEPTH} levels deep")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _construct_int(loader: _RecipeLoader, node: ScalarNode) -> int:
    """YAML 1.2 integers: 010 is ten; 0o and 0x prefixes give octal and hex."""
    text = str(loader.construct_scalar(node))
    return int(text, 0) if text.startswith(("0x", "0o")) else int(text, 10)


_RecipeLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_RecipeLoader.yaml_implicit_resolvers = {}  # start from nothing: only the YAML 1.2 rules below
for _tag, _pattern, _first in _RESOLVERS:
    _RecipeLoader.add_implicit_resolver(_tag, re.compile(_pattern), _first)


@dataclass
class LoadedYaml:
    """Result of loading: the top-level mapping (None when unusable) and the problems found."""

    mapping: dict[Any, Any] | None
    issues: list[RecipeIssue] = field(default_factory=list)


def _check_tree(root: Node) -> list[RecipeIssue]:
    """Walk the node graph with aliases expanded: bound its size and report duplicate keys.

    The walk is depth first in document order, so a duplicate key inside an anchored mapping is
    named at the path where it is written, not at a later alias of it.
    """
    duplicates: dict[tuple[int, int], RecipeIssue] = {}
    stack: list[tuple[Node, tuple[str | int, ...]]] = [(root, ())]
    visited = 0
    while stack:
        node, path = stack.pop()
        visited += 1
        if visited > MAX_NODES:
            raise _LimitError(f"expands to more than {MAX_NODES:,} YAML nodes through aliases")
        if len(path) > MAX_DEPTH:
            raise _LimitError(f"is nested more than {MAX_DEPTH} levels deep through aliases")
        children: list[tuple[Node, tuple[str | int, ...]]] = []
        if isinstance(node, SequenceNode):
            children = [(child, (*path, i)) for i, child in enumerate(node.value)]
        elif isinstance(node, MappingNode):
            first_seen: dict[tuple[str, str], ScalarNode] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, ScalarNode) or key_node.tag == _MERGE_TAG:
                    children += [(key_node, path), (value_node, path)]
                    continue
                key = key_node.value
                children.append((value_node, (*path, key)))
                earlier = first_seen.setdefault((key_node.tag, key), key_node)
                marks = (earlier.start_mark.index, key_node.start_mark.index)
                if earlier is not key_node and marks not in duplicates:
                    first, again = earlier.start_mark.line + 1, key_node.start_mark.line + 1
                    duplicates[marks] = RecipeIssue(
                        format_path((*path, key)),
                        f"duplicate key {key!r}: first on line {first}, again on line {again}; "
                        "YAML keeps only the last one, remove the other",
                    )
        stack.extend(reversed(children))
    return [duplicates[marks] for marks in sorted(duplicates)]


def _unshare(value: Any) -> Any:
    """Copy of a loaded tree in which no list or dict appears twice (aliases give shared objects)."""
    if isinstance(value, dict):
        return {key: _unshare(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_unshare(item) for item in value]
    return value


def _decode(data: bytes | str, source: str) -> tuple[str | None, RecipeIssue | None]:
    if isinstance(data, str):
        try:
            size = len(data.encode("utf-8"))
        except UnicodeEncodeError as exc:
            return None, RecipeIssue(None, f"{source} has an invalid character at position {exc.start}")
    else:
        size = len(data)
    if size > MAX_BYTES:
        return None, RecipeIssue(None, f"{source} is larger than the {MAX_BYTES:,}-byte (1 MiB) limit")
    if isinstance(data, str):
        return data, None
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        return None, RecipeIssue(None, f"{source} is not valid UTF-8 (bad byte at offset {exc.start})")


def _yaml_error_message(exc: yaml.YAMLError, source: str, text: str) -> str:
    if isinstance(exc, yaml.reader.ReaderError) and isinstance(exc.character, int):
        line = text.count("\n", 0, exc.position) + 1
        column = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        return (
            f"{source}: control character U+{exc.character:04X} at line {line}, column {column}: "
            "YAML does not allow it; remove it"
        )
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        what = "unsupported YAML value" if isinstance(exc, ConstructorError) else "YAML syntax error"
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        detail = "; ".join(part for part in (exc.problem, exc.context) if part)
        return f"{source}: {what}{where}: {detail}"
    return f"{source}: YAML error: {exc}"


def _load_value(text: str) -> tuple[Any, list[RecipeIssue]]:
    """Parse one YAML document; raises _LimitError, yaml.YAMLError or ValueError (huge ints)."""
    loader = _RecipeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, []
        issues = _check_tree(node)
        return _unshare(loader.construct_document(node)), issues
    finally:
        loader.dispose()


def load_recipe_yaml(data: bytes | str, *, source: str = "recipe.yaml") -> LoadedYaml:
    """Load a recipe document; the mapping is None when the document is unusable."""
    text, problem = _decode(data, source)
    if text is None:
        return LoadedYaml(None, [problem] if problem else [])
    try:
        value, issues = _load_value(text)
    except _LimitError as exc:
        return LoadedYaml(None, [RecipeIssue(None, f"{source} {exc}")])
    except yaml.YAMLError as exc:
        return LoadedYaml(None, [RecipeIssue(None, _yaml_error_message(exc, source, text))])
    except ValueError as exc:
        return LoadedYaml(None, [RecipeIssue(None, f"{source}: unreadable value: {exc}")])
    if value is None:
        return LoadedYaml(None, [RecipeIssue(None, f"{source} is empty (only comments or blank lines)")])
    if not isinstance(value, dict):
        kind = "a list" if isinstance(value, list) else f"the single value {value!r:.60}"
        return LoadedYaml(
            None, [RecipeIssue(None, f"{source} must be a mapping with run and training_config, not {kind}")]
        )
    return LoadedYaml(value, issues)


def parse_scalar(text: str) -> Any:
    """A command-line value read like a YAML value (numbers, true/false, null, [lists]).

    Blank text gives "", and text that is not valid YAML or that would read as a
    mapping (such as "a: b") is kept as the stripped text.
    """
    stripped = text.strip()
    if not stripped:
        return ""
    try:
        value, issues = _load_value(stripped)
    except (_LimitError, yaml.YAMLError, ValueError):
        return stripped
    if issues or isinstance(value, dict) or (value is None and stripped.startswith("#")):
        return stripped
    return value
