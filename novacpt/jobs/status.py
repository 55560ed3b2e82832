"""What a PyTorchJob's status and its pods say: the job's state and, on failure, why."""

from __future__ import annotations

from typing import Any

from novacpt.kernel.ports import JobState

MAX_POD_PROBLEMS = 5
_DONE = {"Succeeded": JobState.SUCCEEDED, "Failed": JobState.FAILED}


def job_state(job: dict[str, Any]) -> tuple[JobState, str]:
    """The state from the last `status.conditions` entry, and that entry's reason and message.

    Created, Running, Restarting, any other type and no conditions yet all mean the job is still going.
    """
    conditions = (job.get("status") or {}).get("conditions") or []
    if not conditions:
        return JobState.RUNNING, ""
    last = conditions[-1]
    detail = ": ".join(str(part) for part in (last.get("reason"), last.get("message")) if part)
    return _DONE.get(str(last.get("type")), JobState.RUNNING), detail


def pod_problems(pods: list[dict[str, Any]]) -> list[str]:
    """One line per failed container (terminated with a non-zero exit code) or evicted pod, at most 5."""
    problems: list[str] = []
    for pod in sorted(pods, key=lambda p: str((p.get("metadata") or {}).get("name"))):
        name = (pod.get("metadata") or {}).get("name", "?")
        status = pod.get("status") or {}
        if status.get("reason"):
            problems.append(f"pod {name}: {status['reason']}: {status.get('message') or 'no message'}")
        for container in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
            terminated = _failed_termination(container)
            if terminated is not None:
                message = f": {terminated['message'].strip()}" if terminated.get("message") else ""
                problems.append(
                    f"pod {name} container {container.get('name', '?')}: {terminated.get('reason') or 'terminated'} "
                    f"(exit code {terminated.get('exitCode')}){message}"
                )
    if len(problems) > MAX_POD_PROBLEMS:
        return [*problems[:MAX_POD_PROBLEMS], f"... and {len(problems) - MAX_POD_PROBLEMS} more"]
    return problems


def _failed_termination(container: dict[str, Any]) -> dict[str, Any] | None:
    """The current (else the last) termination of a container when it failed, else None."""
    for key in ("state", "lastState"):
        terminated = (container.get(key) or {}).get("terminated")
        if terminated and terminated.get("exitCode") not in (0, None):
            return dict(terminated)
    return None
