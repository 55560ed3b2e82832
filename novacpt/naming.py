"""Deterministic names: Step Functions executions (idempotent triggers) and Kubernetes jobs."""

from __future__ import annotations

import hashlib
import re

EXECUTION_NAME_MAX = 80
# The training operator names a Service per pod `<job>-worker-<i>` (i < 32), which must be a
# DNS-1123 label of at most 63 characters: so the job name stays within 63 - 10 = 53.
JOB_NAME_MAX = 53
_NOT_NAME = re.compile(r"[^A-Za-z0-9_-]+")


def execution_name(bucket: str, key: str, version_id: str | None) -> str:
    """A name unique to one uploaded object version: a repeated event maps to the same execution."""
    digest = hashlib.sha256(f"{bucket}\0{key}\0{version_id or ''}".encode()).hexdigest()[:20]
    job = key.split("/")[1] if key.count("/") >= 2 else "run"
    label = _NOT_NAME.sub("-", job).strip("-")[: EXECUTION_NAME_MAX - len(digest) - 1] or "run"
    return f"{label}-{digest}"


def job_name(run_name: str, execution: str) -> str:
    """`run.name` plus a short suffix unique to the execution (a DNS-1123 label of at most JOB_NAME_MAX)."""
    suffix = hashlib.sha256(execution.encode()).hexdigest()[:8]
    return f"{run_name[: JOB_NAME_MAX - len(suffix) - 1].rstrip('-')}-{suffix}"


def execution_arn(state_machine_arn: str, name: str) -> str:
    """The ARN of the execution `name` of a state machine."""
    return f"{state_machine_arn.replace(':stateMachine:', ':execution:', 1)}:{name}"
