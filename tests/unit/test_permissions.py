"""The small IAM and RBAC evaluator the contract checks use (tests/permissions.py)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.aws_calls import AwsCall, s3_contract_problems
from tests.permissions import (
    RbacRule,
    forbidden_requests,
    iam_allows,
    kubernetes_request,
    rbac_rules,
    required_permissions,
)

OBJECT = "arn:aws:s3:::data/jobs/a/train.jsonl"
READ = {"Effect": "Allow", "Action": ["s3:GetObject", "s3:GetObjectVersion"], "Resource": "arn:aws:s3:::data/*"}


def test_an_allow_matches_action_case_insensitively_and_resource_by_wildcards() -> None:
    assert iam_allows([READ], "s3:getobject", OBJECT)
    assert not iam_allows([READ], "s3:PutObject", OBJECT)
    assert not iam_allows([READ], "s3:GetObject", "arn:aws:s3:::Data/x")  # resources are case-sensitive
    assert not iam_allows([READ], "s3:GetObject", "arn:aws:s3:::data")  # the bucket is not an object
    single = {"Effect": "Allow", "Action": "s3:Get?bject", "Resource": "arn:aws:s3:::d?ta/*"}
    assert iam_allows([single], "s3:GetObject", OBJECT)
    assert not iam_allows([single], "s3:GetObjectVersion", OBJECT)


def test_nothing_is_allowed_by_default_and_a_deny_wins() -> None:
    assert not iam_allows([], "s3:GetObject", OBJECT)
    deny = {"Effect": "Deny", "Action": "s3:*", "Resource": "*"}
    assert not iam_allows([READ, deny], "s3:GetObject", OBJECT)


def test_not_action_and_not_resource() -> None:
    everything_else = {"Effect": "Allow", "NotAction": "s3:Delete*", "NotResource": "arn:aws:s3:::secret/*"}
    assert iam_allows([everything_else], "s3:GetObject", OBJECT)
    assert not iam_allows([everything_else], "s3:DeleteObject", OBJECT)
    assert not iam_allows([everything_else], "s3:GetObject", "arn:aws:s3:::secret/x")


def test_a_conditional_allow_counts_only_when_the_call_meets_it() -> None:
    passing = {
        "Effect": "Allow",
        "Action": "iam:PassRole",
        "Resource": "*",
        "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
    }
    assert not iam_allows([passing], "iam:PassRole", "arn:aws:iam::1:role/r")
    assert iam_allows(
        [passing], "iam:PassRole", "arn:aws:iam::1:role/r", {"iam:PassedToService": "sagemaker.amazonaws.com"}
    )
    assert not iam_allows(
        [passing], "iam:PassRole", "arn:aws:iam::1:role/r", {"iam:PassedToService": "ec2.amazonaws.com"}
    )
    unknown = {**passing, "Condition": {"NumericLessThan": {"x": "1"}}}
    assert not iam_allows([unknown], "iam:PassRole", "r", {"x": "0"})


def _call(operation: str, **params: object) -> AwsCall:
    return AwsCall("s3", "s3", operation, dict(params), "novacpt/x.py", "F")


def test_required_permissions_follow_what_s3_checks() -> None:
    assert required_permissions(_call("GetObject", Bucket="data", Key="k")) == [("s3:GetObject", "arn:aws:s3:::data/k")]
    pinned = _call("HeadObject", Bucket="data", Key="k", VersionId="v")
    assert required_permissions(pinned) == [("s3:GetObjectVersion", "arn:aws:s3:::data/k")]
    copy = _call("CopyObject", Bucket="b", Key="k2", CopySource="data/k%20x?versionId=v")
    assert required_permissions(copy) == [
        ("s3:PutObject", "arn:aws:s3:::b/k2"),
        ("s3:GetObjectVersion", "arn:aws:s3:::data/k x"),
    ]
    assert required_permissions(_call("ListObjectsV2", Bucket="data")) == [("s3:ListBucket", "arn:aws:s3:::data")]
    with pytest.raises(KeyError, match="no rule"):
        required_permissions(_call("PutBucketPolicy", Bucket="data"))


def test_kubernetes_requests_as_rbac_sees_them() -> None:
    jobs = "/apis/kubeflow.org/v1/namespaces/kubeflow/pytorchjobs"
    assert kubernetes_request("POST", jobs).verb == "create"
    assert kubernetes_request("GET", jobs + "/j").verb == "get"
    assert kubernetes_request("GET", "/api/v1/namespaces/kubeflow/pods?labelSelector=a%3Db").verb == "list"
    assert kubernetes_request("GET", jobs + "?watch=true").verb == "watch"
    deleted = kubernetes_request("DELETE", jobs + "/j?propagationPolicy=Background")
    assert (deleted.verb, deleted.group, deleted.resource, deleted.namespace) == (
        "delete",
        "kubeflow.org",
        "pytorchjobs",
        "kubeflow",
    )
    log = kubernetes_request("GET", "/api/v1/namespaces/kubeflow/pods/p/log")
    assert (log.verb, log.group, log.resource) == ("get", "", "pods/log")
    crd = kubernetes_request("GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/x")
    assert (crd.group, crd.resource, crd.namespace) == ("apiextensions.k8s.io", "customresourcedefinitions", None)


def _binding(kind: str, role_kind: str, role: str, group: str, namespace: str | None = None) -> dict[str, Any]:
    metadata = {"name": f"{role}-{group}", **({"namespace": namespace} if namespace else {})}
    subjects = [{"kind": "Group", "name": group}, {"kind": "User", "name": "someone"}]
    return {"kind": kind, "metadata": metadata, "subjects": subjects, "roleRef": {"kind": role_kind, "name": role}}


def test_a_role_allows_only_its_namespace_and_a_cluster_role_every_one() -> None:
    rules = rbac_rules(
        [
            {"kind": "Role", "metadata": {"name": "r", "namespace": "kubeflow"},
             "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}]},
            {"kind": "ClusterRole", "metadata": {"name": "c"},
             "rules": [{"apiGroups": ["apps"], "resources": ["*"], "verbs": ["list"]}]},
            _binding("RoleBinding", "Role", "r", "jobs", "kubeflow"),
            _binding("ClusterRoleBinding", "ClusterRole", "c", "jobs"),
        ]
    )  # fmt: skip
    assert rules[0] == RbacRule(("",), ("configmaps",), ("get",), "kubeflow", ("jobs",))
    allowed = [
        rule for rule in rules if rule.allows(kubernetes_request("GET", "/api/v1/namespaces/kubeflow/configmaps/c"))
    ]
    assert allowed == rules[:1]
    assert not any(r.allows(kubernetes_request("GET", "/api/v1/namespaces/other/configmaps/c")) for r in rules)
    assert not any(r.allows(kubernetes_request("DELETE", "/api/v1/namespaces/kubeflow/configmaps/c")) for r in rules)
    assert any(r.allows(kubernetes_request("GET", "/apis/apps/v1/namespaces/x/deployments")) for r in rules)


def test_only_bound_roles_grant_and_only_to_the_bound_groups() -> None:
    get = [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}]
    documents = [
        {"kind": "Role", "metadata": {"name": "unbound", "namespace": "kubeflow"}, "rules": get},
        {"kind": "ClusterRole", "metadata": {"name": "reader"}, "rules": get},
        _binding("RoleBinding", "ClusterRole", "reader", "jobs", "kubeflow"),  # the ClusterRole, in kubeflow only
    ]
    request = [("GET", "/api/v1/namespaces/kubeflow/configmaps/c")]
    assert rbac_rules(documents) == [RbacRule(("",), ("configmaps",), ("get",), "kubeflow", ("jobs",))]
    assert forbidden_requests(rbac_rules(documents), request, groups=["jobs"]) == []
    (problem,) = forbidden_requests(rbac_rules(documents), request, groups=["others"])
    assert problem.endswith("RBAC allows no get on core/configmaps")
    elsewhere = [("GET", "/api/v1/namespaces/default/configmaps/c")]
    assert forbidden_requests(rbac_rules(documents), elsewhere, groups=["jobs"]) != []
    assert forbidden_requests(rbac_rules(documents[:2]), request) != []  # nothing bound: nothing granted


def test_s3_contract_rules() -> None:
    members = {"Bucket", "Key", "ExpectedBucketOwner", "Range", "VersionId"}
    assert s3_contract_problems("GetObject", {"Bucket": "b", "Key": "k", "ExpectedBucketOwner": "1"}, members) == []
    assert s3_contract_problems("GetObject", {"Bucket": "b", "Key": "k"}, members) == [
        "S3 GetObject of s3://b/k without ExpectedBucketOwner"
    ]
    shard = {"Bucket": "b", "Key": "t.jsonl", "ExpectedBucketOwner": "1", "Range": "bytes=5-9"}
    assert s3_contract_problems("GetObject", shard, members) == [
        "S3 GetObject of s3://b/t.jsonl (a shard read, bytes=5-9) without VersionId"
    ]
    assert s3_contract_problems("GetObject", {**shard, "VersionId": "v"}, members) == []
    copy = {"Bucket": "b", "Key": "k", "ExpectedBucketOwner": "1"}
    assert s3_contract_problems("CopyObject", copy, members | {"ExpectedSourceBucketOwner"}) == [
        "S3 CopyObject of s3://b/k without ExpectedSourceBucketOwner"
    ]
    assert s3_contract_problems("ListBuckets", {}, set()) == []
