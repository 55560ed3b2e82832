"""Kubernetes access without kubectl: EKS bearer tokens, the client over real HTTP(S), DescribeCluster wiring."""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from novacpt.adapters.k8s import (
    CONFIGMAPS,
    PODS,
    PYTORCHJOBS,
    EksTokenSource,
    KubernetesClient,
    KubernetesError,
    connect_eks,
    token_problem,
)
from novacpt.adapters.k8s.token import presigned_url
from novacpt_dev.k8s_standin import KubernetesStandIn

REGION = "us-west-2"
CLUSTER = "hp-eks-cluster"


@pytest.fixture
def session() -> Any:
    return boto3.Session(aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret", region_name=REGION)


@pytest.fixture
def token(session: Any) -> EksTokenSource:
    return EksTokenSource(session, CLUSTER, REGION)


def configmap(name: str, **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels}, "data": {"a": "b"}}


# --- tokens ---------------------------------------------------------------------------------------


def test_token_is_a_presigned_get_caller_identity_url_signed_with_the_cluster_header(token: EksTokenSource) -> None:
    value = token()
    assert value.startswith("k8s-aws-v1.")
    body = value[len("k8s-aws-v1.") :]
    assert "=" not in body and "+" not in body and "/" not in body  # base64url without padding
    url = urlsplit(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode())
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert (url.scheme, url.hostname, url.path) == ("https", f"sts.{REGION}.amazonaws.com", "/")
    assert query["Action"] == "GetCallerIdentity" and query["Version"] == "2011-06-15"
    assert query["X-Amz-Expires"] == "60"
    assert query["X-Amz-SignedHeaders"].split(";") == ["host", "x-k8s-aws-id"]
    assert (
        query["X-Amz-Credential"].startswith("AKIDEXAMPLE/")
        and f"/{REGION}/sts/aws4_request" in query["X-Amz-Credential"]
    )
    assert len(query["X-Amz-Signature"]) == 64
    assert token_problem(value) is None


def test_token_signature_depends_on_the_cluster_name(session: Any) -> None:
    def signature(cluster: str) -> str:
        query = parse_qs(urlsplit(presigned_url(EksTokenSource(session, cluster, REGION)())).query)
        return query["X-Amz-Signature"][0]

    assert signature("cluster-a") != signature("cluster-b")


@pytest.mark.parametrize(
    ("bad", "problem"),
    [
        ("Bearer-less", "does not start with"),
        ("k8s-aws-v1.", "base64url without padding"),
        ("k8s-aws-v1.aGVsbG8=", "base64url without padding"),
        (
            "k8s-aws-v1."
            + base64.urlsafe_b64encode(b"https://example.com/?Action=GetCallerIdentity").decode().rstrip("="),
            "not an STS URL",
        ),
    ],
)
def test_token_problems_are_named(bad: str, problem: str) -> None:
    assert problem in (token_problem(bad) or "")


def test_token_without_the_signed_cluster_header_is_refused(token: EksTokenSource) -> None:
    url = presigned_url(token()).replace("host%3Bx-k8s-aws-id", "host")
    forged = "k8s-aws-v1." + base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")
    assert token_problem(forged) == "x-k8s-aws-id is not signed"


def test_token_needs_credentials() -> None:
    class NoCredentials:
        def get_credentials(self) -> None:
            return None

    with pytest.raises(ValueError, match="no AWS credentials"):
        EksTokenSource(NoCredentials(), CLUSTER, REGION)


# --- the client over HTTP -------------------------------------------------------------------------


@pytest.fixture
def api(token: EksTokenSource) -> Iterator[tuple[KubernetesClient, KubernetesStandIn]]:
    with KubernetesStandIn() as standin:
        yield KubernetesClient(standin.url, token, allow_http=True), standin


def test_plain_http_is_refused_unless_asked_for(token: EksTokenSource) -> None:
    with pytest.raises(ValueError, match="refusing plain HTTP"):
        KubernetesClient("http://127.0.0.1:1", token)
    with pytest.raises(ValueError, match="https://"):
        KubernetesClient("ftp://example.com", token)


def test_create_get_list_delete_use_the_api_paths(api: tuple[KubernetesClient, KubernetesStandIn]) -> None:
    client, standin = api
    created = client.create(CONFIGMAPS, "kubeflow", configmap("cm-1", app="x"))
    assert created["metadata"]["uid"]
    assert client.get(CONFIGMAPS, "kubeflow", "cm-1") == created
    assert client.get(CONFIGMAPS, "kubeflow", "absent") is None
    assert client.get(CONFIGMAPS, "other-ns", "cm-1") is None
    assert [o["metadata"]["name"] for o in client.list(CONFIGMAPS, "kubeflow", label_selector="app=x")] == ["cm-1"]
    assert client.list(CONFIGMAPS, "kubeflow", label_selector="app=y") == []
    assert client.list(PODS, "kubeflow", label_selector="training.kubeflow.org/job-name=j") == []
    assert client.delete(CONFIGMAPS, "kubeflow", "cm-1") is True
    assert client.delete(CONFIGMAPS, "kubeflow", "cm-1") is False
    assert standin.requests == [
        ("POST", "/api/v1/namespaces/kubeflow/configmaps"),
        ("GET", "/api/v1/namespaces/kubeflow/configmaps/cm-1"),
        ("GET", "/api/v1/namespaces/kubeflow/configmaps/absent"),
        ("GET", "/api/v1/namespaces/other-ns/configmaps/cm-1"),
        ("GET", "/api/v1/namespaces/kubeflow/configmaps?labelSelector=app%3Dx"),
        ("GET", "/api/v1/namespaces/kubeflow/configmaps?labelSelector=app%3Dy"),
        ("GET", "/api/v1/namespaces/kubeflow/pods?labelSelector=training.kubeflow.org%2Fjob-name%3Dj"),
        ("DELETE", "/api/v1/namespaces/kubeflow/configmaps/cm-1?propagationPolicy=Background"),
        ("DELETE", "/api/v1/namespaces/kubeflow/configmaps/cm-1?propagationPolicy=Background"),
    ]
    assert PYTORCHJOBS.path("kubeflow", "j") == "/apis/kubeflow.org/v1/namespaces/kubeflow/pytorchjobs/j"


def test_errors_carry_status_and_whether_to_retry(api: tuple[KubernetesClient, KubernetesStandIn]) -> None:
    client, _ = api
    client.create(CONFIGMAPS, "kubeflow", configmap("cm-1"))
    with pytest.raises(KubernetesError) as conflict:
        client.create(CONFIGMAPS, "kubeflow", configmap("cm-1"))
    assert conflict.value.status == 409 and conflict.value.reason == "AlreadyExists" and not conflict.value.transient
    with pytest.raises(KubernetesError) as bad:
        client.create(PYTORCHJOBS, "kubeflow", configmap("cm-2"))  # a ConfigMap is not a PyTorchJob
    assert bad.value.status == 400 and "PyTorchJob" in str(bad.value)


def test_a_bad_token_is_unauthorized(api: tuple[KubernetesClient, KubernetesStandIn]) -> None:
    _, standin = api
    client = KubernetesClient(standin.url, lambda: "k8s-aws-v1.bm9wZQ", allow_http=True)
    with pytest.raises(KubernetesError) as denied:
        client.get(CONFIGMAPS, "kubeflow", "cm-1")
    assert denied.value.status == 401 and "bad token" in str(denied.value)


def test_server_errors_and_no_answer_are_transient(
    api: tuple[KubernetesClient, KubernetesStandIn], token: EksTokenSource, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, standin = api
    monkeypatch.setattr(standin, "handle", lambda *_: (503, {"message": "etcd is busy"}))
    with pytest.raises(KubernetesError) as busy:
        client.create(CONFIGMAPS, "kubeflow", configmap("cm-1"))  # POST: not retried by the client
    assert busy.value.status == 503 and busy.value.transient and "etcd is busy" in str(busy.value)
    # A port this test holds bound but does not listen on: a refused connection, and no other server can take it.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        gone = KubernetesClient(f"http://127.0.0.1:{silent.getsockname()[1]}", token, allow_http=True, retries=0)
        with pytest.raises(KubernetesError) as nothing:
            gone.get(CONFIGMAPS, "kubeflow", "cm-1")
    assert nothing.value.status == 0 and nothing.value.transient and "no answer" in str(nothing.value)


def test_throttled_reads_are_retried(
    api: tuple[KubernetesClient, KubernetesStandIn], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, standin = api
    answers = iter([(429, {"message": "slow down"}), (200, {"kind": "ConfigMap", "metadata": {"name": "cm-1"}})])
    monkeypatch.setattr(standin, "handle", lambda *_: next(answers))
    assert client.get(CONFIGMAPS, "kubeflow", "cm-1") == {"kind": "ConfigMap", "metadata": {"name": "cm-1"}}


# --- TLS and EKS wiring ---------------------------------------------------------------------------


def _certificate(tmp_path: Path, name: str) -> tuple[Path, Path, str]:
    """A self-signed certificate for 127.0.0.1 (a CA for itself): (cert file, key file, PEM)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    cert_file, key_file = tmp_path / f"{name}.crt", tmp_path / f"{name}.key"
    cert_file.write_text(pem)
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_file, key_file, pem


@pytest.fixture
def tls_standin(tmp_path: Path) -> Iterator[tuple[KubernetesStandIn, str, str]]:
    cert_file, key_file, pem = _certificate(tmp_path, "cluster-ca")
    _, _, other_pem = _certificate(tmp_path, "other-ca")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    with KubernetesStandIn(ssl_context=context) as standin:
        yield standin, pem, other_pem


def test_tls_is_verified_with_the_cluster_ca(
    tls_standin: tuple[KubernetesStandIn, str, str], token: EksTokenSource
) -> None:
    standin, pem, other_pem = tls_standin
    assert standin.url.startswith("https://")
    trusted = KubernetesClient(standin.url, token, ca_data=pem)
    trusted.create(CONFIGMAPS, "kubeflow", configmap("cm-1"))
    assert trusted.get(CONFIGMAPS, "kubeflow", "cm-1") is not None
    for ca in (other_pem, None):  # another CA, or the system's: the cluster's certificate is not trusted
        with pytest.raises(KubernetesError) as refused:
            KubernetesClient(standin.url, token, ca_data=ca).get(CONFIGMAPS, "kubeflow", "cm-1")
        assert "TLS verification" in str(refused.value) and not refused.value.transient
    assert len(standin.requests) == 2  # the refused clients never sent a request


class _Eks:
    def __init__(self, cluster: dict[str, Any]) -> None:
        self.cluster = cluster
        self.calls: list[str] = []

    def describe_cluster(self, name: str) -> dict[str, Any]:
        self.calls.append(name)
        return {"cluster": self.cluster}


class _Session:
    """A boto3 session whose EKS client is scripted (moto's EKS has no real CA); STS is boto3's own."""

    def __init__(self, real: Any, eks: _Eks) -> None:
        self.real, self.eks = real, eks

    def get_credentials(self) -> Any:
        return self.real.get_credentials()

    def client(self, service: str, region_name: str) -> Any:
        return self.eks if service == "eks" else self.real.client(service, region_name=region_name)


def test_connect_eks_uses_describe_cluster_endpoint_and_ca(
    tls_standin: tuple[KubernetesStandIn, str, str], session: Any
) -> None:
    standin, pem, _ = tls_standin
    ca = base64.b64encode(pem.encode()).decode()
    eks = _Eks({"endpoint": standin.url, "certificateAuthority": {"data": ca}, "status": "ACTIVE"})
    client = connect_eks(_Session(session, eks), CLUSTER, REGION)
    assert eks.calls == [CLUSTER] and client.server == standin.url
    client.create(CONFIGMAPS, "kubeflow", configmap("cm-1"))
    assert client.get(CONFIGMAPS, "kubeflow", "cm-1") is not None


@pytest.mark.parametrize(
    ("cluster", "problem"),
    [
        ({"status": "CREATING"}, "no API endpoint or CA yet"),
        ({"endpoint": "https://x.eks.amazonaws.com", "certificateAuthority": {"data": "%%%"}}, "not base64 PEM"),
    ],
)
def test_connect_eks_explains_an_unusable_cluster(session: Any, cluster: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        connect_eks(_Session(session, _Eks(cluster)), CLUSTER, REGION)
