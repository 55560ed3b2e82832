"""What a PyTorchJob's status and its pods say: the job's state and, on failure, why."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
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


# --- the stuck-job watchdog -------------------------------------------------------------------------

# Container waiting reasons that do not clear by themselves (a crash loop, an image that cannot be pulled,
# a container that cannot be created); with restartPolicy OnFailure the job never fails because of them.
STUCK_WAITING = frozenset(
    {
        "ImagePullBackOff",
        "ErrImagePull",
        "InvalidImageName",
        "CrashLoopBackOff",
        "CreateContainerConfigError",
        "CreateContainerError",
        "RunContainerError",
    }
)


@dataclass(frozen=True, slots=True)
class StuckPod:
    """One pod that is not getting anywhere: which container, why, since when, and on which node."""

    pod: str
    container: str  # "" when no container is involved (the pod is not scheduled)
    cause: str
    since: datetime
    node: str = ""

    def minutes(self, now: datetime) -> float:
        """How long it has been stuck at `now`."""
        return (now - self.since).total_seconds() / 60

    def describe(self, now: datetime) -> str:
        """`pod P container C: cause (for N min)`."""
        where = f"pod {self.pod}" + (f" container {self.container}" if self.container else "")
        return f"{where}: {self.cause} (for {self.minutes(now):.0f} min)"


def stuck_pods(pods: list[dict[str, Any]]) -> list[StuckPod]:
    """The pods that are stuck now: unschedulable or Pending with nothing running, a container waiting for
    a reason that does not clear (image pull, crash loop), or a failed init container. Each with the time
    Kubernetes says the pod got into that state (the condition's last transition, else its creation)."""
    found: list[StuckPod] = []
    for pod in sorted(pods, key=lambda p: str((p.get("metadata") or {}).get("name"))):
        metadata, status = pod.get("metadata") or {}, pod.get("status") or {}
        name, node = str(metadata.get("name", "?")), str((pod.get("spec") or {}).get("nodeName") or "")
        conditions = {str(c.get("type")): c for c in status.get("conditions") or []}
        created = _time(metadata.get("creationTimestamp")) or _time(status.get("startTime"))
        if created is None or status.get("phase") not in ("Pending", "Running"):
            continue

        scheduled = conditions.get("PodScheduled") or {}
        if scheduled.get("status") == "False":
            cause = ": ".join(
                str(p) for p in (scheduled.get("reason") or "Unschedulable", scheduled.get("message")) if p
            )
            found.append(
                StuckPod(
                    name, "", f"Pending, not scheduled: {cause}", _since(conditions, "PodScheduled", created), node
                )
            )
            continue
        trouble = _container_trouble(status)
        if trouble is not None:
            container, cause, init = trouble
            found.append(
                StuckPod(
                    name,
                    container,
                    cause,
                    _since(conditions, "Initialized" if init else "ContainersReady", created),
                    node,
                )
            )
        elif status.get("phase") == "Pending" and not _any_running(status):
            found.append(StuckPod(name, "", "Pending", _since(conditions, "Ready", created), node))
    return found


def restarts(pods: list[dict[str, Any]]) -> int:
    """How many times the job's containers (init containers too) have restarted, over all its pods."""
    return sum(
        int(container.get("restartCount") or 0)
        for pod in pods
        for key in ("initContainerStatuses", "containerStatuses")
        for container in (pod.get("status") or {}).get(key) or []
    )


def _container_trouble(status: dict[str, Any]) -> tuple[str, str, bool] | None:
    """(container, cause, is an init container) of the first container stuck or failed, else None."""
    for key, init in (("initContainerStatuses", True), ("containerStatuses", False)):
        for container in status.get(key) or []:
            name = str(container.get("name", "?"))
            state = container.get("state") or {}
            waiting = state.get("waiting") or {}
            restarted = int(container.get("restartCount") or 0)
            if waiting.get("reason") in STUCK_WAITING:
                last = ((container.get("lastState") or {}).get("terminated")) or {}
                detail = f"; last exit code {last['exitCode']}" if last.get("exitCode") not in (None, 0) else ""
                restarts_text = f", {restarted} restarts" if restarted else ""
                message = f": {str(waiting['message']).strip()}" if waiting.get("message") else ""
                return name, f"{waiting['reason']}{message}{detail}{restarts_text}", init
            terminated = state.get("terminated") or {}
            if init and terminated.get("exitCode") not in (None, 0):
                return (
                    name,
                    f"init container failed: {terminated.get('reason') or 'Error'} (exit code "
                    f"{terminated['exitCode']})",
                    True,
                )
    return None


def _since(conditions: dict[str, dict[str, Any]], condition: str, created: datetime) -> datetime:
    """When `condition` turned False (its last transition), else when the pod was created."""
    entry = conditions.get(condition) or {}
    moment = _time(entry.get("lastTransitionTime")) if entry.get("status") == "False" else None
    return moment or created


def _any_running(status: dict[str, Any]) -> bool:
    return any(
        "running" in (container.get("state") or {})
        for key in ("initContainerStatuses", "containerStatuses")
        for container in status.get(key) or []
    )


def _time(text: Any) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
