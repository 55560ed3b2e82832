"""Notifications: one readable message per run outcome, with what to fix when it failed."""

from __future__ import annotations

import json
from typing import Any

from novacpt.contract import Notification, RunState, StepError

SUBJECT_MAX = 100


def encodable(text: str) -> str:
    """`text` with what UTF-8 cannot encode (lone surrogates from hostile data) escaped as `\\udXXX`."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _subject(text: str) -> str:
    """An SNS subject: encodable, one line, printable characters only, at most SUBJECT_MAX."""
    return "".join(c if c.isprintable() else "?" for c in encodable(text))[:SUBJECT_MAX]


def _reason(error: StepError | None) -> tuple[str, str]:
    if error is None:
        return "Unknown", "no error details"
    cause = error.Cause
    try:
        parsed = json.loads(cause)
        if isinstance(parsed, dict) and parsed.get("errorMessage"):
            cause = parsed["errorMessage"]
    except (TypeError, ValueError):
        pass
    return error.Error or "Unknown", str(cause)


def quality_line(quality: dict[str, Any]) -> str:
    """Corpus-quality figures in one line: near copies, languages, mojibake, validation overlap."""
    near, mojibake = quality.get("near_duplicates") or {}, quality.get("mojibake") or {}
    languages = ", ".join(f"{code} {share:.0%}" for code, share in list((quality.get("languages") or {}).items())[:4])
    parts = [
        f"near copies {near.get('rate', 0):.1%}",
        f"languages {languages or '-'}",
        f"mojibake {mojibake.get('count', 0)} records",
    ]
    if overlap := quality.get("validation_overlap"):
        parts.append(f"validation overlap {overlap.get('exact', 0)} exact, {overlap.get('near', 0)} near")
    return "; ".join(parts)


def build_message(state: RunState, *, succeeded: bool, execution_arn: str, log_group: str | None) -> Notification:
    """The run's SNS notification: subject and body."""
    recipe = state.recipe
    job = recipe.job_name if recipe else "(not started)"
    lines = [f"Nova CPT run {'SUCCEEDED' if succeeded else 'FAILED'}", f"job: {job}", f"execution: {execution_arn}"]
    if recipe:
        lines.append(f"recipe: {recipe.source_uri}")
    for dataset in state.datasets or []:
        if dataset.quality:
            lines.append(f"{dataset.role} data quality: {quality_line(dataset.quality)}")
    if state.estimate:
        lines.append(f"estimate: {state.estimate.hours} h, {state.estimate.instance_hours} P5 instance-hours")
    if state.archive:
        lines.append(f"run record: {state.archive.run_record}")
        run = execution_arn.rsplit(":", 1)[-1]
        lines.append(f"run report: {state.archive.report} (cpt report {run} draws it)")
        if state.archive.checkpoint:
            lines.append(f"checkpoint (use as run.model_name_or_path to continue): {state.archive.checkpoint}")
    if not succeeded:
        name, cause = _reason(state.error)
        lines += ["", f"reason: {name}", cause]
    if log_group:
        lines.append(f"cluster logs: CloudWatch log group {log_group}")
    status = "succeeded" if succeeded else "FAILED"
    return Notification(subject=_subject(f"Nova CPT {status}: {job}"), message=encodable("\n".join(lines)))
