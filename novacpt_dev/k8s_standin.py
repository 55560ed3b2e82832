"""A stand-in Kubernetes API on loopback: PyTorchJobs, ConfigMaps and pods, with EKS bearer-token checks.

It serves real HTTP (or HTTPS with a given server SSL context) for the real client to talk to: objects are
stored, a PyTorchJob walks through its scripted conditions one step per GET (Created -> Running ->
Succeeded, or -> Failed with a message and a failed container), its pods follow, and a hook runs when a
job succeeds (a simulated trainer writes the outputs there; while it fails, the GET answers 500 and the
job does not succeed). Used by tests and by the demo.
"""

from __future__ import annotations

import json
import re
import ssl
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

from novacpt.adapters.k8s.token import token_problem
from novacpt.jobs.manifests import CONFIG_KEY, CONTAINER, JOB_NAME_LABEL, config_map_name

_PATH = re.compile(r"/(api/v1|apis/kubeflow\.org/v1)/namespaces/([^/]+)/(pytorchjobs|configmaps|pods)(?:/([^/]+))?")
_KINDS = {  # plural -> (API prefix, apiVersion, kind)
    "pytorchjobs": ("apis/kubeflow.org/v1", "kubeflow.org/v1", "PyTorchJob"),
    "configmaps": ("api/v1", "v1", "ConfigMap"),
    "pods": ("api/v1", "v1", "Pod"),
}


@dataclass(frozen=True)
class JobScript:
    """The conditions a job goes through, one per GET (the last repeats), and how it fails if it does."""

    conditions: tuple[str, ...] = ("Created", "Running", "Succeeded")
    message: str = ""
    failed_pod: str = "worker-0"  # <role>-<index> of the replica whose container fails
    reason: str = "Error"
    exit_code: int = 1

    @classmethod
    def failing(cls, message: str, *, reason: str = "Error", exit_code: int = 1) -> JobScript:
        """Created -> Running -> Failed with `message`, worker 0's container terminated with `reason`."""
        return cls(("Created", "Running", "Failed"), message, reason=reason, exit_code=exit_code)


@dataclass(frozen=True)
class FinishedJob:
    """What the success hook gets: the job as submitted and the recipe from its ConfigMap (None if absent)."""

    name: str
    namespace: str
    job: dict[str, Any]
    recipe: dict[str, Any] | None


@dataclass
class _Job:
    script: JobScript
    step: int = 0
    pods: list[str] = field(default_factory=list)


class _ApiError(Exception):
    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message


class KubernetesStandIn:
    """A loopback Kubernetes API server; use as a context manager, then point a client at `url`.

    `on_succeeded` runs in the server's thread while it holds its lock: it must not call this API.
    """

    def __init__(
        self,
        *,
        ssl_context: ssl.SSLContext | None = None,
        on_succeeded: Callable[[FinishedJob], None] | None = None,
        default_script: JobScript | None = None,
    ) -> None:
        self.on_succeeded = on_succeeded
        self.default_script = default_script or JobScript()
        self.scripts: dict[str, JobScript] = {}  # by job name, overriding the default
        self.requests: list[tuple[str, str]] = []  # (method, path with query), in order
        self._objects: dict[tuple[str, str, str], dict[str, Any]] = {}
        self._jobs: dict[tuple[str, str], _Job] = {}
        self._lock = threading.RLock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        if ssl_context is not None:
            self._server.socket = ssl_context.wrap_socket(self._server.socket, server_side=True)
        self._scheme = "https" if ssl_context is not None else "http"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="k8s-standin", daemon=True
        )

    @property
    def url(self) -> str:
        """The server's base URL."""
        return f"{self._scheme}://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> KubernetesStandIn:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def objects(self, plural: str, namespace: str) -> dict[str, dict[str, Any]]:
        """The stored objects of one type in one namespace, by name."""
        with self._lock:
            return {name: obj for (p, ns, name), obj in self._objects.items() if (p, ns) == (plural, namespace)}

    # --- request handling (called by the handler, one request at a time under the lock) -----------------

    def handle(self, method: str, target: str, headers: Any, body: bytes) -> tuple[int, dict[str, Any]]:
        """Answer one request: (HTTP status, JSON body)."""
        with self._lock:
            self.requests.append((method, target))
            try:
                return self._route(method, target, headers, body)
            except _ApiError as exc:
                return exc.code, _status(exc.code, exc.reason, exc.message)

    def _route(self, method: str, target: str, headers: Any, body: bytes) -> tuple[int, dict[str, Any]]:
        auth = str(headers.get("Authorization") or "")
        problem = token_problem(auth[len("Bearer ") :]) if auth.startswith("Bearer ") else "no bearer token"
        if problem:
            raise _ApiError(401, "Unauthorized", f"bad token: {problem}")
        split = urlsplit(target)
        match = _PATH.fullmatch(split.path)
        if not match or _KINDS[match[3]][0] != match[1]:
            raise _ApiError(404, "NotFound", f"no such path {split.path}")
        _, namespace, plural, name = match.groups()
        if name is None and method == "GET":
            selector = parse_qs(split.query).get("labelSelector", [""])[0]
            return 200, {"kind": "List", "items": self._list(plural, namespace, selector)}
        if name is None and method == "POST":
            return 201, self._create(plural, namespace, body)
        if name is not None and method == "GET":
            return 200, self._get(plural, namespace, name)
        if name is not None and method == "DELETE":
            self._delete(plural, namespace, name)
            return 200, _status(200, "", "deleted")
        raise _ApiError(405, "MethodNotAllowed", f"{method} is not supported on {split.path}")

    def _stored(self, plural: str, namespace: str, name: str) -> dict[str, Any]:
        obj = self._objects.get((plural, namespace, name))
        if obj is None:
            raise _ApiError(404, "NotFound", f'{plural} "{name}" not found')
        return obj

    def _list(self, plural: str, namespace: str, selector: str) -> list[dict[str, Any]]:
        wanted = dict(part.split("=", 1) for part in selector.split(",") if "=" in part)
        return [
            obj
            for obj in self.objects(plural, namespace).values()
            if wanted.items() <= ((obj.get("metadata") or {}).get("labels") or {}).items()
        ]

    def _create(self, plural: str, namespace: str, body: bytes) -> dict[str, Any]:
        try:
            obj: dict[str, Any] = json.loads(body)
        except ValueError as exc:
            raise _ApiError(400, "BadRequest", f"body is not JSON: {exc}") from exc
        _, api_version, kind = _KINDS[plural]
        metadata = obj.get("metadata") if isinstance(obj, dict) else None
        if not isinstance(metadata, dict) or (obj.get("apiVersion"), obj.get("kind")) != (api_version, kind):
            raise _ApiError(400, "BadRequest", f"expected a {api_version} {kind} with metadata")
        name = str(metadata.get("name") or "")
        if not name or metadata.get("namespace", namespace) != namespace:
            raise _ApiError(400, "BadRequest", "metadata.name is missing or metadata.namespace differs from the path")
        if (plural, namespace, name) in self._objects:
            raise _ApiError(409, "AlreadyExists", f'{plural} "{name}" already exists')
        metadata.update(namespace=namespace, uid=str(uuid.uuid4()), creationTimestamp=_now())
        self._objects[(plural, namespace, name)] = obj
        if plural == "pytorchjobs":
            self._start(namespace, name, obj)
        return obj

    def _start(self, namespace: str, name: str, job: dict[str, Any]) -> None:
        state = _Job(self.scripts.get(name, self.default_script))
        for role, spec in (job.get("spec") or {}).get("pytorchReplicaSpecs", {}).items():
            for index in range(int(spec.get("replicas", 1))):
                pod = f"{name}-{role.lower()}-{index}"
                labels = {JOB_NAME_LABEL: name, "training.kubeflow.org/replica-type": role.lower()}
                self._objects[("pods", namespace, pod)] = {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {"name": pod, "namespace": namespace, "labels": labels},
                    "status": {"phase": "Pending"},
                }
                state.pods.append(pod)
        self._jobs[(namespace, name)] = state

    def _get(self, plural: str, namespace: str, name: str) -> dict[str, Any]:
        obj = self._stored(plural, namespace, name)
        if plural == "pytorchjobs":
            self._advance(namespace, name, obj)
        return obj

    def _advance(self, namespace: str, name: str, job: dict[str, Any]) -> None:
        """One step along the script; reaching Succeeded first runs the hook (if it fails, the step is not taken)."""
        state = self._jobs[(namespace, name)]
        script = state.script
        step = min(state.step + 1, len(script.conditions))
        types = script.conditions[:step]
        if types[-1] == "Succeeded" and step > state.step and self.on_succeeded is not None:
            config = self._objects.get(("configmaps", namespace, config_map_name(name)))
            text = ((config or {}).get("data") or {}).get(CONFIG_KEY)
            self.on_succeeded(FinishedJob(name, namespace, job, yaml.safe_load(text) if text else None))
        state.step = step
        job["status"] = {"conditions": [_condition(name, t, script.message) for t in types]}
        for pod in state.pods:
            self._objects[("pods", namespace, pod)]["status"] = _pod_status(pod, name, types[-1], script)

    def _delete(self, plural: str, namespace: str, name: str) -> None:
        self._stored(plural, namespace, name)
        del self._objects[(plural, namespace, name)]
        if plural == "pytorchjobs":
            for pod in self._jobs.pop((namespace, name)).pods:  # garbage collection of what the job owns
                self._objects.pop(("pods", namespace, pod), None)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    outcome = "Success" if code < 400 else "Failure"
    return {"kind": "Status", "apiVersion": "v1", "status": outcome, "reason": reason, "message": message, "code": code}


def _condition(job: str, kind: str, failure: str) -> dict[str, Any]:
    message = failure if kind == "Failed" and failure else f"PyTorchJob {job} is {kind.lower()}."
    now = _now()
    return {
        "type": kind,
        "status": "True",
        "reason": f"PyTorchJob{kind}",
        "message": message,
        "lastUpdateTime": now,
        "lastTransitionTime": now,
    }


def _pod_status(pod: str, job: str, condition: str, script: JobScript) -> dict[str, Any]:
    if condition == "Created":
        return {"phase": "Pending"}
    if condition == "Succeeded":
        state = {"terminated": {"exitCode": 0, "reason": "Completed"}}
        return {"phase": "Succeeded", "containerStatuses": [{"name": CONTAINER, "state": state}]}
    if condition == "Failed" and pod == f"{job}-{script.failed_pod}":
        terminated = {"exitCode": script.exit_code, "reason": script.reason, "message": script.message}
        return {"phase": "Failed", "containerStatuses": [{"name": CONTAINER, "state": {"terminated": terminated}}]}
    return {"phase": "Running", "containerStatuses": [{"name": CONTAINER, "state": {"running": {}}}]}


def _handler(standin: KubernetesStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out as separate writes

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            try:
                code, payload = standin.handle(self.command, self.path, self.headers, self.rfile.read(length))
            except Exception as exc:  # a failing success hook: the job has not succeeded yet
                code, payload = 500, _status(500, "InternalError", f"{type(exc).__name__}: {exc}")
            data = json.dumps(payload).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _answer

        def log_message(self, format: str, *args: Any) -> None:
            return None

    return Handler
