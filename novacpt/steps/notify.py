"""Notifications: one readable message per run outcome, with what to fix when it failed."""

from __future__ import annotations

import json
from typing import Any

SUBJECT_MAX = 100


def encodable(text: str) -> str:
    """`text` with what UTF-8 cannot encode (lone surrogates from hostile data) escaped as `\\udXXX`."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _subject(text: str) -> str:
    """An SNS subject: encodable, one line, printable characters only, at most SUBJECT_MAX."""
    return "".join(c if c.isprintable() else "?" for c in encodable(text))[:SUBJECT_MAX]


def _reason(error: dict[str, Any] | None) -> tuple[str, str]:
    if not error:
        return "Unknown", "no error details"
    name = str(error.get("Error") or "Unknown")
    cause = error.get("Cause") or ""
    try:
        parsed = json.loads(cause)
        if isinstance(parsed, dict) and parsed.get("errorMessage"):
            cause = parsed["errorMessage"]
    except (TypeError, ValueError):
        pass
    return name, str(cause)


def build_message(
    state: dict[str, Any], *, succeeded: bool, execution_arn: str, log_group: str | None
) -> tuple[str, str]:
    """(subject, body) for the run's SNS notification."""
    recipe = state.get("recipe") or {}
    job = recipe.get("job_name") or "(not started)"
    lines = [f"Nova CPT run {'SUCCEEDED' if succeeded else 'FAILED'}", f"job: {job}", f"execution: {execution_arn}"]
    if recipe.get("source_uri"):
        lines.append(f"recipe: {recipe['source_uri']}")
    estimate = state.get("estimate")
    if estimate:
        lines.append(f"estimate: {estimate['hours']} h, {estimate['instance_hours']} P5 instance-hours")
    archived = state.get("archive") or {}
    if archived.get("run_record"):
        lines.append(f"run record: {archived['run_record']}")
    if archived.get("checkpoint"):
        lines.append(f"checkpoint (use as run.model_name_or_path to continue): {archived['checkpoint']}")
    if not succeeded:
        name, cause = _reason(state.get("error"))
        lines += ["", f"reason: {name}", cause]
    if log_group:
        lines.append(f"cluster logs: CloudWatch log group {log_group}")
    status = "succeeded" if succeeded else "FAILED"
    return _subject(f"Nova CPT {status}: {job}"), encodable("\n".join(lines))
