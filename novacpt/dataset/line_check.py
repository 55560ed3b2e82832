"""The exact, per-line rules of the CPT dataset format: the reference the fast path must match."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from novacpt.dataset.blank import is_blank, what_blank
from novacpt.dataset.codes import ErrorCode

_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True, slots=True)
class LineError:
    """Why one line is not a valid record."""

    code: ErrorCode
    message: str


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


class _Pairs(list[tuple[str, Any]]):
    """A JSON object as the decoder saw it: every key/value pair, duplicates included."""


_DECODER = json.JSONDecoder(object_pairs_hook=_Pairs, parse_constant=_reject_constant)


def check_line(raw: bytes) -> str | LineError:
    """Validate one line (without its `\\n`; a trailing `\\r` is allowed) and return its text."""
    if raw.endswith(b"\r"):
        raw = raw[:-1]
    if not raw.strip():
        return LineError(ErrorCode.EMPTY_LINE, "empty line: every line must hold one JSON object")
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return LineError(ErrorCode.INVALID_UTF8, f"invalid UTF-8 at byte {exc.start + 1} of the line")
    try:
        value = _DECODER.decode(line)
    except (ValueError, RecursionError) as exc:
        return LineError(ErrorCode.INVALID_JSON, f"not valid JSON: {_json_reason(exc)}")
    if not isinstance(value, _Pairs):
        return LineError(ErrorCode.NOT_OBJECT, f'a line must be a JSON object {{"text": ...}}, got {_kind(value)}')
    return _check_pairs(value)


def _kind(value: Any) -> str:
    if isinstance(value, _Pairs):
        return "object"
    if isinstance(value, list):
        return "array"
    if value is None:
        return "null"
    return {"str": "string", "bool": "boolean", "int": "number", "float": "number"}[type(value).__name__]


def _json_reason(exc: BaseException) -> str:
    if isinstance(exc, json.JSONDecodeError):
        # Some messages already end in " at" ("Invalid control character at"): say it once.
        return f"{exc.msg.removesuffix(' at')} at column {exc.colno}"
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    return str(exc)


def _check_pairs(pairs: _Pairs) -> str | LineError:
    keys = [k for k, _ in pairs]
    seen: set[str] = set()
    for key in keys:
        if key in seen:
            return LineError(ErrorCode.DUPLICATE_KEY, f'duplicate key "{_clip(key)}"')
        seen.add(key)
    extra = [k for k in keys if k != "text"]
    if extra:
        return LineError(
            ErrorCode.UNEXPECTED_KEY,
            f'unexpected key "{_clip(extra[0])}": a record has exactly one key, "text"',
        )
    if not pairs:
        return LineError(ErrorCode.MISSING_TEXT, 'missing key "text"')
    text = pairs[0][1]
    if not isinstance(text, str):
        return LineError(ErrorCode.TEXT_NOT_STRING, f'"text" must be a string, got {_kind(text)}')
    found = _SURROGATE.search(text)
    if found:
        return LineError(
            ErrorCode.LONE_SURROGATE,
            f'"text" holds a lone surrogate U+{ord(found.group()):04X} (invalid Unicode)',
        )
    if is_blank(text):
        return LineError(ErrorCode.EMPTY_TEXT, f'"text" is {what_blank(text)}')
    return text


def _clip(value: str, limit: int = 40) -> str:
    return value if len(value) <= limit else value[:limit] + "..."
