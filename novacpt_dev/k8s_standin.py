"""A stand-in Kubernetes API on loopback: PyTorchJobs, ConfigMaps and pods, with EKS bearer-token checks.

It serves real HTTP (or HTTPS with a given server SSL context) for the real client to talk to: objects are
stored, a PyTorchJob walks through its scripted conditions one step per GET (Created -> Running ->
Succeeded, or -> Failed with a message and a failed container), its pods follow, and a hook runs when a
job succeeds (a simulated trainer writes the outputs there; while it fails, the GET answers 500 and the
job does not succeed). Used by tests and by the demo.

It refuses what a real API server (with the training operator's admission webhook) refuses: a PyTorchJob
that breaks the CRD's schema (when given the CRD; unknown fields too, as with strict field validation), a
volumeMount that names no volume, invalid names and labels, and a second create of the same name (409).
Pods can be scripted into trouble (unschedulable, image pull back-off, crash loops, a failing init
container); each GET of the job ages them by `JobScript.minutes_per_step`, so a watchdog that reads the
pods' timestamps sees time pass without a test waiting.
"""

from __future__ import annotations

import json
import re
import ssl
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import parse_qs, urlsplit

import yaml

from novacpt.adapters.k8s.client import KubernetesClient
from novacpt.adapters.k8s.token import EksTokenSource, token_problem
from novacpt.jobs.manifests import CONFIG_KEY, CONTAINER, INIT_CONTAINER, JOB_NAME_LABEL, config_map_name

_PATH = re.compile(r"/(api/v1|apis/kubeflow\.org/v1)/namespaces/([^/]+)/(pytorchjobs|configmaps|pods)(?:/([^/]+))?")
_CLUSTER_PATH = re.compile(
    r"/(apis/apiextensions\.k8s\.io/v1/customresourcedefinitions|apis/apps/v1/deployments|apis/apps/v1/daemonsets)"
    r"(?:/([^/]+))?"
)
_KINDS = {  # plural -> (API prefix, apiVersion, kind)
    "pytorchjobs": ("apis/kubeflow.org/v1", "kubeflow.org/v1", "PyTorchJob"),
    "configmaps": ("api/v1", "v1", "ConfigMap"),
    "pods": ("api/v1", "v1", "Pod"),
}


TROUBLES = ("Unschedulable", "ImagePullBackOff", "CrashLoopBackOff")
# The reference CRD, when this checkout sits next to the shared reference data (never copied into the project).
REFERENCE_CRD = Path(__file__).resolve().parents[2] / "shared/reference/kubeflow/kubeflow.org_pytorchjobs.yaml"


@dataclass(frozen=True)
class PodTrouble:
    """Pods stuck in one way: `Unschedulable` (Pending), `ImagePullBackOff`, or `CrashLoopBackOff`.

    `container` is the trainer (`pytorch`) or the init container; `pods` is `*` or one `<role>-<index>`.
    """

    kind: str
    container: str = CONTAINER
    pods: str = "*"
    message: str = ""
    exit_code: int = 1

    def __post_init__(self) -> None:
        if self.kind not in TROUBLES:
            raise ValueError(f"pod trouble {self.kind!r} is not one of {', '.join(TROUBLES)}")


@dataclass(frozen=True)
class JobScript:
    """The conditions a job goes through, one per GET (the last repeats), and how it fails if it does."""

    conditions: tuple[str, ...] = ("Created", "Running", "Succeeded")
    message: str = ""
    failed_pod: str = "worker-0"  # <role>-<index> of the replica whose container fails
    reason: str = "Error"
    exit_code: int = 1
    trouble: PodTrouble | None = None
    minutes_per_step: float = 0.0  # how much older the pods' timestamps get with each GET of the job

    @classmethod
    def failing(cls, message: str, *, reason: str = "Error", exit_code: int = 1) -> JobScript:
        """Created -> Running -> Failed with `message`, worker 0's container terminated with `reason`."""
        return cls(("Created", "Running", "Failed"), message, reason=reason, exit_code=exit_code)

    @classmethod
    def stuck(cls, trouble: PodTrouble, *, minutes_per_step: float = 10.0) -> JobScript:
        """A job that never gets going: its pods stay in `trouble`, aging `minutes_per_step` per GET.

        The job's conditions are what the training operator shows then: Created while pods wait, and
        Running -> Restarting while the trainer crash-loops.
        """
        restarting = trouble.kind == "CrashLoopBackOff" and trouble.container == CONTAINER
        conditions = ("Created", "Running", "Restarting") if restarting else ("Created",)
        return cls(conditions, trouble=trouble, minutes_per_step=minutes_per_step)


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
    created: datetime
    step: int = 0
    looks: int = 0  # GETs of the job so far
    pods: list[str] = field(default_factory=list)
    images: dict[str, str] = field(default_factory=dict)  # container name -> image


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
        crd: Path | None = None,
    ) -> None:
        """`crd`: the PyTorchJob CustomResourceDefinition to validate jobs against (default: none)."""
        self.on_succeeded = on_succeeded
        self.default_script = default_script or JobScript()
        self._schema = _crd_validator(crd) if crd is not None else None
        self.scripts: dict[str, JobScript] = {}  # by job name, overriding the default
        self.requests: list[tuple[str, str]] = []  # (method, path with query), in order
        self._objects: dict[tuple[str, str, str], dict[str, Any]] = {}
        # What the HyperPod and RIG dependency charts install (cluster-wide reads only): plural -> objects.
        self.add_ons: dict[str, list[dict[str, Any]]] = installed_add_ons()
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

    def connect_eks(self, session: Any, cluster_name: str, region: str, **_: Any) -> KubernetesClient:
        """What the product's `connect_eks` makes (a client with EKS tokens signed by `session`), reaching here."""
        return KubernetesClient(self.url, EksTokenSource(session, cluster_name, region), allow_http=True)

    @contextmanager
    def as_the_cluster(self) -> Iterator[KubernetesStandIn]:
        """While active, the product's EKS connections (job backend, preflight) reach this server instead."""
        with (
            mock.patch("novacpt.adapters.kubernetes_jobs.connect_eks", self.connect_eks),
            mock.patch("novacpt.adapters.k8s.eks.connect_eks", self.connect_eks),
        ):
            yield self

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
        cluster_wide = _CLUSTER_PATH.fullmatch(split.path)
        if cluster_wide and method == "GET":
            return self._add_on(cluster_wide[1].rsplit("/", 1)[-1], cluster_wide[2])
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

    def _add_on(self, plural: str, name: str | None) -> tuple[int, dict[str, Any]]:
        items = self.add_ons.get(plural, [])
        if name is None:
            return 200, {"kind": "List", "items": items}
        for obj in items:
            if obj["metadata"]["name"] == name:
                return 200, obj
        raise _ApiError(404, "NotFound", f'{plural} "{name}" not found')

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
        problems = object_problems(obj, self._schema)
        if problems:
            raise _ApiError(422, "Invalid", f'{kind} "{name}" is invalid: {"; ".join(problems)}')
        if (plural, namespace, name) in self._objects:
            raise _ApiError(409, "AlreadyExists", f'{plural} "{name}" already exists')
        metadata.update(namespace=namespace, uid=str(uuid.uuid4()), creationTimestamp=_now())
        self._objects[(plural, namespace, name)] = obj
        if plural == "pytorchjobs":
            self._start(namespace, name, obj)
        return obj

    def _start(self, namespace: str, name: str, job: dict[str, Any]) -> None:
        state = _Job(self.scripts.get(name, self.default_script), datetime.now(UTC))
        for role, spec in (job.get("spec") or {}).get("pytorchReplicaSpecs", {}).items():
            pod_spec = (spec.get("template") or {}).get("spec") or {}
            for container in (pod_spec.get("initContainers") or []) + (pod_spec.get("containers") or []):
                state.images[str(container.get("name"))] = str(container.get("image"))
            for index in range(int(spec.get("replicas", 1))):
                pod = f"{name}-{role.lower()}-{index}"
                labels = {JOB_NAME_LABEL: name, "training.kubeflow.org/replica-type": role.lower()}
                self._objects[("pods", namespace, pod)] = {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {"name": pod, "namespace": namespace, "labels": labels},
                    "spec": {"nodeName": f"hyperpod-i-{uuid.uuid4().hex[:17]}"},
                    "status": {"phase": "Pending"},
                }
                state.pods.append(pod)
        self._jobs[(namespace, name)] = state
        self._age(namespace, state)

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
        state.looks += 1
        job["status"] = {"conditions": [_condition(name, t, script.message) for t in types]}
        for pod in state.pods:
            self._objects[("pods", namespace, pod)]["status"] = _pod_status(pod, name, types[-1], script)
        self._age(namespace, state)

    def _age(self, namespace: str, state: _Job) -> None:
        """Set the pods' timestamps, `minutes_per_step` older per step, and their scripted trouble."""
        script = state.script
        created = state.created - timedelta(minutes=script.minutes_per_step * state.looks)
        for pod in state.pods:
            obj = self._objects[("pods", namespace, pod)]
            obj["metadata"]["creationTimestamp"] = _stamp(created)
            obj["status"].setdefault("startTime", _stamp(created))
            trouble = script.trouble
            if trouble is not None and trouble.pods in ("*", _replica(pod)):
                obj["status"] = _troubled(trouble, state, created)
                if trouble.kind == "Unschedulable":
                    obj["spec"].pop("nodeName", None)

    def _delete(self, plural: str, namespace: str, name: str) -> None:
        self._stored(plural, namespace, name)
        del self._objects[(plural, namespace, name)]
        if plural == "pytorchjobs":
            for pod in self._jobs.pop((namespace, name)).pods:  # garbage collection of what the job owns
                self._objects.pop(("pods", namespace, pod), None)


def installed_add_ons() -> dict[str, list[dict[str, Any]]]:
    """The PyTorchJob CRD and the workloads of the HyperPod and RIG dependency releases, as after their install
    on a cluster at rest (no node yet: nothing available)."""

    def workload(name: str, namespace: str, release: str, status: dict[str, int]) -> dict[str, Any]:
        annotations = {"meta.helm.sh/release-name": release, "meta.helm.sh/release-namespace": "kube-system"}
        return {"metadata": {"name": name, "namespace": namespace, "annotations": annotations}, "status": status}

    return {
        "customresourcedefinitions": [{"metadata": {"name": "pytorchjobs.kubeflow.org"}}],
        "deployments": [
            workload("training-operator", "kubeflow", "hyperpod-dependencies", {"replicas": 1, "availableReplicas": 0}),
            workload("mpi-operator", "mpi-operator", "hyperpod-dependencies", {"replicas": 1, "availableReplicas": 0}),
        ],
        "daemonsets": [
            workload("nvidia-device-plugin", "kube-system", "hyperpod-dependencies", {"desiredNumberScheduled": 0}),
            workload("aws-efa-k8s-device-plugin", "kube-system", "rig-dependencies", {"desiredNumberScheduled": 0}),
        ],
    }


def _now() -> str:
    return _stamp(datetime.now(UTC))


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _replica(pod: str) -> str:
    """`<role>-<index>` of a pod named `<job>-<role>-<index>`."""
    return "-".join(pod.rsplit("-", 2)[-2:])


def _troubled(trouble: PodTrouble, state: _Job, since: datetime) -> dict[str, Any]:
    """A pod's status while stuck in `trouble` since `since`, after `state.looks` looks."""
    stamp = _stamp(since)
    if trouble.kind == "Unschedulable":
        message = trouble.message or "0/2 nodes are available: 2 Insufficient nvidia.com/gpu."
        condition = {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message}
        return {"phase": "Pending", "conditions": [{**condition, "lastTransitionTime": stamp}]}
    init = trouble.container == INIT_CONTAINER
    image = state.images.get(trouble.container, "?")
    if trouble.kind == "ImagePullBackOff":
        reason = "ErrImagePull" if state.looks % 2 else "ImagePullBackOff"
        message = trouble.message or f'Back-off pulling image "{image}"'
        status = {"name": trouble.container, "image": image, "ready": False, "restartCount": 0}
        status["state"] = {"waiting": {"reason": reason, "message": message}}
    else:
        message = trouble.message or f"back-off restarting failed container {trouble.container}"
        terminated = {"exitCode": trouble.exit_code, "reason": "Error", "finishedAt": _now()}
        status = {"name": trouble.container, "image": image, "ready": False, "restartCount": state.looks}
        status["state"] = {"waiting": {"reason": "CrashLoopBackOff", "message": message}}
        status["lastState"] = {"terminated": terminated}
    waiting = {"name": CONTAINER, "image": state.images.get(CONTAINER, "?"), "ready": False, "restartCount": 0}
    waiting["state"] = {"waiting": {"reason": "PodInitializing"}}
    unready = "Initialized" if init else "ContainersReady"
    conditions = [
        {"type": "PodScheduled", "status": "True", "lastTransitionTime": stamp},
        {"type": "Initialized", "status": "False" if init else "True", "lastTransitionTime": stamp},
        {"type": "ContainersReady", "status": "False", "reason": f"{unready}NotReady", "lastTransitionTime": stamp},
        {"type": "Ready", "status": "False", "lastTransitionTime": stamp},
    ]
    if init:
        return {
            "phase": "Pending",
            "conditions": conditions,
            "initContainerStatuses": [status],
            "containerStatuses": [waiting],
        }
    phase = "Pending" if trouble.kind == "ImagePullBackOff" else "Running"
    return {"phase": phase, "conditions": conditions, "containerStatuses": [status]}


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


# --- what the API server and the training operator's webhook refuse --------------------------------

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS_1035 = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_LABEL_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")


def closed(schema: Any) -> Any:
    """An OpenAPI schema with unknown fields refused wherever it lists properties (strict field validation)."""
    if isinstance(schema, dict):
        schema = {key: closed(value) for key, value in schema.items()}
        open_ = "additionalProperties" in schema or schema.get("x-kubernetes-preserve-unknown-fields")
        if "properties" in schema and not open_:
            schema["additionalProperties"] = False
        return schema
    if isinstance(schema, list):
        return [closed(item) for item in schema]
    return schema


@cache
def _crd_validator(path: Path) -> Any:
    """A JSON-schema validator of the v1 openAPIV3Schema in a CRD file (jsonschema: a dev dependency).

    Made once per file: a validator keeps no state between validations.
    """
    import jsonschema

    crd = yaml.safe_load(path.read_text())
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    return jsonschema.Draft7Validator(closed(version["schema"]["openAPIV3Schema"]))


def object_problems(obj: dict[str, Any], schema: Any = None) -> list[str]:
    """Why the API server would refuse to create `obj` (names, labels, the PyTorchJob `schema`, pod templates)."""
    metadata = obj.get("metadata") or {}
    name = str(metadata.get("name") or "")
    problems: list[str] = []
    if obj.get("kind") == "PyTorchJob":  # the training operator's webhook: the name starts services' names
        if len(name) > 63 or not _DNS_1035.fullmatch(name):
            problems.append(
                f"metadata.name: Invalid value: {name!r}: a DNS-1035 label must consist of lower case "
                "alphanumeric characters or '-', start with a letter, end with an alphanumeric, <= 63"
            )
    elif len(name) > 253 or not _DNS_SUBDOMAIN.fullmatch(name):
        problems.append(f"metadata.name: Invalid value: {name!r}: a lowercase RFC 1123 subdomain is required")
    problems += _label_problems("metadata.labels", metadata.get("labels"))
    if schema is not None and obj.get("kind") == "PyTorchJob":
        for error in sorted(schema.iter_errors(obj), key=lambda e: list(map(str, e.absolute_path))):
            problems.append(f"{'.'.join(map(str, error.absolute_path)) or '(root)'}: {error.message}")
    if obj.get("kind") == "PyTorchJob":
        for role, spec in sorted(((obj.get("spec") or {}).get("pytorchReplicaSpecs") or {}).items()):
            if isinstance(spec, dict):
                problems += pod_spec_problems(f"spec.pytorchReplicaSpecs.{role}.template", spec.get("template") or {})
    return problems


def pod_spec_problems(where: str, template: dict[str, Any]) -> list[str]:
    """What pod validation refuses in a pod template: unnamed or unknown volumes, duplicate names, bad labels."""
    problems = _label_problems(f"{where}.metadata.labels", (template.get("metadata") or {}).get("labels"))
    spec = template.get("spec") or {}
    volumes = [str(v.get("name")) for v in spec.get("volumes") or [] if isinstance(v, dict)]
    for index, volume in enumerate(volumes):
        if not _DNS_LABEL.fullmatch(volume) or len(volume) > 63:
            problems.append(f"{where}.spec.volumes[{index}].name: Invalid value: {volume!r}")
    problems += [f"{where}.spec.volumes: Duplicate value: {v!r}" for v in sorted(set(volumes)) if volumes.count(v) > 1]
    names: list[str] = []
    for group in ("initContainers", "containers"):
        for index, container in enumerate(spec.get(group) or []):
            names.append(str(container.get("name")))
            for m, mount in enumerate(container.get("volumeMounts") or []):
                if mount.get("name") not in volumes:
                    problems.append(
                        f"{where}.spec.{group}[{index}].volumeMounts[{m}].name: Not found: {mount.get('name')!r}"
                    )
    problems += [f"{where}.spec.containers: Duplicate value: {n!r}" for n in sorted(set(names)) if names.count(n) > 1]
    return problems


def _label_problems(where: str, labels: Any) -> list[str]:
    problems = []
    for key, value in (labels or {}).items():
        name = str(key).rsplit("/", 1)[-1]
        prefix = str(key)[: -len(name) - 1] if "/" in str(key) else ""
        if len(name) > 63 or not _LABEL_NAME.fullmatch(name) or (prefix and not _DNS_SUBDOMAIN.fullmatch(prefix)):
            problems.append(f"{where}: Invalid value: {key!r}: not a qualified label name")
        if not isinstance(value, str) or len(value) > 63 or not _LABEL_VALUE.fullmatch(value):
            problems.append(f"{where}: Invalid value: {value!r}: not a valid label value")
    return problems


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
