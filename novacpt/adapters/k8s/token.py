"""EKS bearer tokens, made as `aws eks get-token` makes them: a presigned STS GetCallerIdentity URL."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import parse_qs, urlsplit

from botocore.signers import RequestSigner

TOKEN_PREFIX = "k8s-aws-v1."
CLUSTER_HEADER = "x-k8s-aws-id"
EXPIRES_SECONDS = 60
_QUERY = "Action=GetCallerIdentity&Version=2011-06-15"


class EksTokenSource:
    """Fresh bearer tokens for one EKS cluster, signed with the session's credentials (no AWS call)."""

    def __init__(self, session: Any, cluster_name: str, region: str) -> None:
        """`session` is a boto3 Session; `region` picks the regional STS endpoint the token names."""
        credentials = session.get_credentials()
        if credentials is None:
            raise ValueError("no AWS credentials to sign an EKS token with")
        self._sts = sts = session.client("sts", region_name=region)  # kept: the signer's events live in it
        self._signer = RequestSigner(
            sts.meta.service_model.service_id, region, "sts", "v4", credentials, sts.meta.events
        )
        self._url = f"{sts.meta.endpoint_url}/?{_QUERY}"
        self.cluster_name = cluster_name
        self.region = region

    def __call__(self) -> str:
        """A token valid for about a minute: `k8s-aws-v1.` + base64url (no padding) of the presigned URL."""
        request = {
            "method": "GET",
            "url": self._url,
            "url_path": "/",
            "query_string": "",
            "body": b"",
            "headers": {CLUSTER_HEADER: self.cluster_name},
            "context": {},
        }
        url = self._signer.generate_presigned_url(
            request, operation_name="GetCallerIdentity", expires_in=EXPIRES_SECONDS, region_name=self.region
        )
        return TOKEN_PREFIX + base64.urlsafe_b64encode(str(url).encode()).decode().rstrip("=")


def presigned_url(token: str) -> str:
    """The presigned URL inside a bearer token; ValueError saying what is wrong otherwise."""
    if not token.startswith(TOKEN_PREFIX):
        raise ValueError(f"the token does not start with {TOKEN_PREFIX!r}")
    body = token[len(TOKEN_PREFIX) :]
    if body.endswith("=") or not body:
        raise ValueError("the token must be base64url without padding")
    try:
        return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
    except ValueError as exc:
        raise ValueError(f"the token is not base64url: {exc}") from exc


def token_problem(token: str) -> str | None:
    """Why `token` is not an EKS bearer token for STS GetCallerIdentity signed with the cluster header, or None."""
    try:
        url = urlsplit(presigned_url(token))
    except ValueError as exc:
        return str(exc)
    query = {key: values[0] for key, values in parse_qs(url.query).items()}
    host = url.hostname or ""
    checks = [
        (url.scheme == "https" and host.startswith("sts.") and host.endswith(".amazonaws.com"), "not an STS URL"),
        (query.get("Action") == "GetCallerIdentity", "not a GetCallerIdentity request"),
        (query.get("X-Amz-Algorithm") == "AWS4-HMAC-SHA256", "not signed with SigV4"),
        (bool(query.get("X-Amz-Signature")), "no X-Amz-Signature"),
        (CLUSTER_HEADER in query.get("X-Amz-SignedHeaders", "").split(";"), f"{CLUSTER_HEADER} is not signed"),
        (query.get("X-Amz-Expires") == str(EXPIRES_SECONDS), f"X-Amz-Expires is not {EXPIRES_SECONDS}"),
    ]
    return next((problem for ok, problem in checks if not ok), None)
