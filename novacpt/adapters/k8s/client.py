"""A small Kubernetes API client over urllib3: bearer token, TLS verified with the cluster's CA, JSON in and out."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import urllib3
from urllib3.exceptions import HTTPError, MaxRetryError, SSLError

_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class Resource:
    """A namespaced resource type: its API prefix and plural name."""

    prefix: str
    plural: str

    def path(self, namespace: str | None, name: str | None = None) -> str:
        """`<prefix>/namespaces/<ns>/<plural>[/<name>]` (without a namespace: cluster-wide), each part URL-quoted."""
        scope = f"/namespaces/{quote(namespace, safe='')}" if namespace is not None else ""
        base = f"{self.prefix}{scope}/{self.plural}"
        return f"{base}/{quote(name, safe='')}" if name is not None else base


PYTORCHJOBS = Resource("/apis/kubeflow.org/v1", "pytorchjobs")
CONFIGMAPS = Resource("/api/v1", "configmaps")
PODS = Resource("/api/v1", "pods")
# Cluster-wide reads of the preflight: the PyTorchJob CRD, and the add-ons' workloads in every namespace.
CRDS = Resource("/apis/apiextensions.k8s.io/v1", "customresourcedefinitions")
DEPLOYMENTS = Resource("/apis/apps/v1", "deployments")
DAEMONSETS = Resource("/apis/apps/v1", "daemonsets")


class KubernetesError(Exception):
    """An API answer other than success, or no answer at all (status 0)."""

    def __init__(self, status: int, message: str, reason: str = "", *, transient: bool | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        # Worth retrying later: no answer, throttling, server errors (unless the caller knows better).
        self.transient = status == 0 or status in _RETRY_STATUS if transient is None else transient


class KubernetesClient:
    """Create, read, list and delete namespaced objects; a 404 is an answer (None or False), not an error."""

    def __init__(
        self,
        server: str,
        token: Callable[[], str],
        *,
        ca_data: str | None = None,
        timeout_seconds: float = 15.0,
        retries: int = 3,
        allow_http: bool = False,
    ) -> None:
        """`server` is https://host[:port]; TLS is verified against `ca_data` (PEM) or the system's CAs.

        Failed connections, and throttled or failed GETs and DELETEs, are retried `retries` times with
        backoff. Plain http:// is refused unless `allow_http` (for a local stand-in only).
        """
        if server.startswith("http://") and not allow_http:
            raise ValueError(f"refusing plain HTTP to {server}: the Kubernetes API must be reached over TLS")
        if not server.startswith(("https://", "http://")):
            raise ValueError(f"the API server must be an https:// URL, got {server!r}")
        self.server = server.rstrip("/")
        self._token = token
        retry = urllib3.Retry(
            total=retries,
            read=min(retries, 1),
            other=0,  # TLS failures: retrying cannot help
            backoff_factor=0.5,
            status_forcelist=_RETRY_STATUS,
            allowed_methods=frozenset({"GET", "DELETE"}),
            raise_on_status=False,
        )
        timeout = urllib3.Timeout(connect=min(5.0, timeout_seconds), read=timeout_seconds)
        self._http = urllib3.PoolManager(
            cert_reqs="CERT_REQUIRED", ca_cert_data=ca_data, retries=retry, timeout=timeout, maxsize=4
        )

    def get_cluster(self, resource: Resource, name: str) -> dict[str, Any] | None:
        """One cluster-scoped object (such as a CRD), or None when it does not exist."""
        return self._request("GET", resource.path(None, name), missing_ok=True)

    def list_cluster(self, resource: Resource) -> list[dict[str, Any]]:
        """The objects of a type in every namespace."""
        answer = self._request("GET", resource.path(None)) or {}
        return list(answer.get("items") or [])

    def get(self, resource: Resource, namespace: str, name: str) -> dict[str, Any] | None:
        """One object, or None when it does not exist."""
        return self._request("GET", resource.path(namespace, name), missing_ok=True)

    def list(self, resource: Resource, namespace: str, *, label_selector: str) -> list[dict[str, Any]]:
        """The objects whose labels match `label_selector` (such as `key=value`)."""
        answer = self._request("GET", resource.path(namespace), query={"labelSelector": label_selector}) or {}
        return list(answer.get("items") or [])

    def create(self, resource: Resource, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        """Create an object; KubernetesError with status 409 when the name is taken."""
        answer = self._request("POST", resource.path(namespace), body=body)
        assert answer is not None  # only GET and DELETE answer None
        return answer

    def delete(self, resource: Resource, namespace: str, name: str) -> bool:
        """Delete an object and, in the background, what it owns; False when it did not exist."""
        path = resource.path(namespace, name)
        return self._request("DELETE", path, query={"propagationPolicy": "Background"}, missing_ok=True) is not None

    def _request(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
        missing_ok: bool = False,
    ) -> dict[str, Any] | None:
        url = self.server + path + (f"?{urlencode(query)}" if query else "")
        headers = {"Authorization": f"Bearer {self._token()}", "Accept": "application/json"}
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body).encode()
        try:
            response = self._http.request(method, url, body=data, headers=headers)
        except (MaxRetryError, HTTPError) as exc:
            cause = exc.reason if isinstance(exc, MaxRetryError) and exc.reason is not None else exc
            if isinstance(cause, SSLError):
                message = f"{method} {path}: TLS verification of {self.server} failed: {cause}"
                raise KubernetesError(0, message, transient=False) from exc
            raise KubernetesError(0, f"{method} {path}: no answer from {self.server}: {cause}") from exc
        if response.status == 404 and missing_ok:
            return None
        payload = _json(response.data)
        if response.status >= 400:
            message = payload.get("message") or response.reason or "no message"
            raise KubernetesError(
                response.status, f"{method} {path}: {response.status} {message}", payload.get("reason", "")
            )
        return payload


def _json(data: bytes) -> dict[str, Any]:
    try:
        value = json.loads(data) if data else {}
    except ValueError:
        return {"message": data[:200].decode(errors="replace")}
    return value if isinstance(value, dict) else {}
