"""Does a synthesised IAM policy (or the RBAC Role) allow the calls a function made? A small evaluator.

No maintained Python package evaluates identity policies offline the way IAM does (moto's evaluator denies
an Allow whose condition it cannot see, and knows no `?`), so this one is small and tested on its own
(tests/unit/test_permissions.py). It is deliberately conservative: an Allow with a Condition counts only
when the call supplies the condition's values; Deny statements win; actions match case-insensitively,
resources case-sensitively, with the `*` and `?` wildcards.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

from novacpt_dev.emulator.deployment import CLUSTER
from novacpt_dev.emulator.template import Templates, UnresolvedReference
from tests.aws_calls import AwsCall

Statement = dict[str, Any]
# Calls IAM does not authorise (they answer who the caller is).
NO_PERMISSION_NEEDED = {("sts", "GetCallerIdentity")}


# --------------------------------------------------------------------------- IAM


def _pattern(value: str, *, case: bool) -> re.Pattern[str]:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in value)
    return re.compile(regex, 0 if case else re.IGNORECASE)


def _matches(patterns: Any, value: str, *, case: bool) -> bool:
    items = patterns if isinstance(patterns, list) else [patterns]
    return any(_pattern(str(p), case=case).fullmatch(value) for p in items)


def _applies(statement: Statement, action: str, resource: str) -> bool:
    if "Action" in statement:
        action_ok = _matches(statement["Action"], action, case=False)
    else:
        action_ok = not _matches(statement.get("NotAction", []), action, case=False)
    if "Resource" in statement:
        resource_ok = _matches(statement["Resource"], resource, case=True)
    else:
        resource_ok = not _matches(statement.get("NotResource", []), resource, case=True)
    return action_ok and resource_ok


def _conditions_hold(condition: Mapping[str, Any], context: Mapping[str, str]) -> bool:
    """Only StringEquals/StringLike/ArnLike/ArnEquals on values the call supplies; anything else does not hold."""
    for operator, pairs in condition.items():
        like = operator in {"StringLike", "ArnLike"}
        if operator not in {"StringEquals", "StringLike", "ArnEquals", "ArnLike"}:
            return False
        for key, wanted in pairs.items():
            if key not in context or not _matches(wanted if like else _escaped(wanted), context[key], case=True):
                return False
    return True


def _escaped(values: Any) -> list[str]:
    items = values if isinstance(values, list) else [values]
    return [str(v).replace("*", "\\*").replace("?", "\\?") for v in items]


def iam_allows(
    statements: Iterable[Statement], action: str, resource: str, context: Mapping[str, str] | None = None
) -> bool:
    """True when some Allow applies to (action, resource) and no Deny does."""
    allowed = False
    for statement in statements:
        if not _applies(statement, action, resource):
            continue
        holds = _conditions_hold(statement.get("Condition", {}), context or {})
        if statement.get("Effect") == "Deny" and holds:
            return False
        if statement.get("Effect") == "Allow" and holds:
            allowed = True
    return allowed


def _object_arn(bucket: str, key: str) -> str:
    return f"arn:aws:s3:::{bucket}/{key}"


def _source(copy_source: Any) -> tuple[str, str, str | None]:
    if isinstance(copy_source, Mapping):
        return str(copy_source["Bucket"]), str(copy_source["Key"]), copy_source.get("VersionId")
    path, _, query = str(copy_source).lstrip("/").partition("?")
    bucket, _, key = unquote(path).partition("/")
    return bucket, key, parse_qs(query).get("versionId", [None])[0]


def required_permissions(
    call: AwsCall, region: str = "us-east-1", account: str = "123456789012"
) -> list[tuple[str, str]]:
    """The (IAM action, resource ARN) pairs AWS checks for one call; KeyError for a call it does not know."""
    p, op = call.params, call.operation
    if call.service == "s3":
        bucket = f"arn:aws:s3:::{p.get('Bucket', '')}"
        if op in {"GetObject", "HeadObject"}:
            return [
                ("s3:GetObjectVersion" if p.get("VersionId") else "s3:GetObject", _object_arn(p["Bucket"], p["Key"]))
            ]
        if op in {"PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload"}:
            return [("s3:PutObject", _object_arn(p["Bucket"], p["Key"]))]
        if op == "AbortMultipartUpload":
            return [("s3:AbortMultipartUpload", _object_arn(p["Bucket"], p["Key"]))]
        if op in {"DeleteObject"}:
            action = "s3:DeleteObjectVersion" if p.get("VersionId") else "s3:DeleteObject"
            return [(action, _object_arn(p["Bucket"], p["Key"]))]
        if op in {"CopyObject", "UploadPartCopy"}:
            src_bucket, src_key, version = _source(p["CopySource"])
            read = "s3:GetObjectVersion" if version else "s3:GetObject"
            return [("s3:PutObject", _object_arn(p["Bucket"], p["Key"])), (read, _object_arn(src_bucket, src_key))]
        if op in {"ListObjectsV2", "ListObjects"}:
            return [("s3:ListBucket", bucket)]
        if op == "ListObjectVersions":
            return [("s3:ListBucketVersions", bucket)]
        if op == "GetBucketLocation":
            return [("s3:GetBucketLocation", bucket)]
    if call.service == "sns" and op == "Publish":
        return [("sns:Publish", str(p["TopicArn"]))]
    if call.service == "stepfunctions":
        if op == "StartExecution":
            return [("states:StartExecution", str(p["stateMachineArn"]))]
        if op in {"DescribeExecution", "StopExecution", "GetExecutionHistory"}:
            return [(f"states:{op}", str(p["executionArn"]))]
    if call.service == "dynamodb" and op == "TransactWriteItems":
        kinds = {
            "Put": "PutItem",
            "Update": "UpdateItem",
            "Delete": "DeleteItem",
            "ConditionCheck": "ConditionCheckItem",
        }
        return [
            (f"dynamodb:{kinds[kind]}", f"arn:aws:dynamodb:{region}:{account}:table/{body['TableName']}")
            for item in p["TransactItems"]
            for kind, body in item.items()
        ]
    if call.service == "dynamodb" and "TableName" in p:
        return [(f"dynamodb:{op}", f"arn:aws:dynamodb:{region}:{account}:table/{p['TableName']}")]
    raise KeyError(f"{call.service} {op}: no rule for the permissions it needs (add one to tests/permissions.py)")


def _lenient(templates: Templates, stack: str, value: Any) -> Any:
    """`value` resolved as far as the emulator can; an unresolved reference becomes a name that matches nothing."""
    if isinstance(value, list):
        return [_lenient(templates, stack, v) for v in value]
    if not isinstance(value, Mapping):
        return value
    if len(value) == 1 and (next(iter(value)) == "Ref" or next(iter(value)).startswith("Fn::")):
        try:
            return templates.resolve(stack, value)
        except (UnresolvedReference, KeyError):
            ((key, arg),) = value.items()
            if key == "Fn::Join":
                return str(arg[0]).join(str(_lenient(templates, stack, i)) for i in arg[1])
            return f"<unresolved {json.dumps(value, sort_keys=True)}>"
    return {k: _lenient(templates, stack, v) for k, v in value.items()}


def _managed_policy(templates: Templates, stack: str, reference: Any) -> list[Statement]:
    """The statements of a customer managed policy the template defines (AWS managed policies grant no data access)."""
    if isinstance(reference, Mapping) and "Fn::GetStackOutput" in reference:
        other = reference["Fn::GetStackOutput"]["StackName"]
        output = templates.stacks[other]["Outputs"][reference["Fn::GetStackOutput"]["OutputName"]]["Value"]
        return _managed_policy(templates, other, output)
    if isinstance(reference, Mapping) and "Ref" in reference:
        resource = templates.stacks[stack]["Resources"].get(reference["Ref"], {})
        if resource.get("Type") == "AWS::IAM::ManagedPolicy":
            return list(_lenient(templates, stack, resource["Properties"]["PolicyDocument"])["Statement"])
    return []


def role_statements(templates: Templates, stack: str, role_id: str) -> list[Statement]:
    """Every statement of a role's identity policies in the synthesised templates."""
    resources = templates.stacks[stack]["Resources"]
    role = resources[role_id]["Properties"]
    statements: list[Statement] = []
    for inline in role.get("Policies", []):
        statements += _lenient(templates, stack, inline["PolicyDocument"])["Statement"]
    for reference in role.get("ManagedPolicyArns", []):
        statements += _managed_policy(templates, stack, reference)
    for resource in resources.values():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::IAM::Policy" and {"Ref": role_id} in props.get("Roles", []):
            statements += _lenient(templates, stack, props["PolicyDocument"])["Statement"]
    return statements


def function_statements(templates: Templates, stack: str, function_id: str) -> list[Statement]:
    """The statements of the execution role of one Lambda function."""
    role = templates.stacks[stack]["Resources"][function_id]["Properties"]["Role"]
    return role_statements(templates, stack, role["Fn::GetAtt"][0])


def _stack_of(templates: Templates, function_id: str) -> str:
    (stack,) = [name for name, template in templates.stacks.items() if function_id in template["Resources"]]
    return stack


def unauthorised_calls(templates: Templates, calls: Iterable[AwsCall]) -> list[str]:
    """Each call a function made that its synthesised role does not allow, as one line."""
    problems: list[str] = []
    cache: dict[str, list[Statement]] = {}
    for call in calls:
        if call.function is None or (call.service, call.operation) in NO_PERMISSION_NEEDED:
            continue
        if call.function not in cache:
            cache[call.function] = function_statements(templates, _stack_of(templates, call.function), call.function)
        statements = cache[call.function]
        try:
            needed = required_permissions(call, templates.region, templates.account)
        except KeyError as exc:
            problems.append(f"{call.function}: {exc.args[0]}")
            continue
        problems += [
            f"{call.function}: {call.service} {call.operation} needs {action} on {resource}, "
            "which its role does not allow"
            for action, resource in needed
            if not iam_allows(statements, action, resource)
        ]
    return sorted(set(problems))


# --------------------------------------------------------------------------- Kubernetes RBAC

_NAMESPACED = re.compile(
    r"/(?:api/(?P<core>v1)|apis/(?P<group>[^/]+)/[^/]+)/namespaces/(?P<ns>[^/]+)/(?P<res>[^/]+)(?:/(?P<name>[^/]+))?(?:/(?P<sub>[^/]+))?"
)
_CLUSTER = re.compile(r"/(?:api/(?P<core>v1)|apis/(?P<group>[^/]+)/[^/]+)/(?P<res>[^/]+)(?:/(?P<name>[^/]+))?")


@dataclass(frozen=True)
class KubernetesRequest:
    """What RBAC authorises: verb, API group, resource (with subresource), namespace (None: cluster-wide)."""

    verb: str
    group: str
    resource: str
    namespace: str | None


def kubernetes_request(method: str, target: str) -> KubernetesRequest:
    """The RBAC view of one HTTP request to the API server."""
    split = urlsplit(target)
    match = _NAMESPACED.fullmatch(split.path) or _CLUSTER.fullmatch(split.path)
    if match is None:
        raise ValueError(f"{method} {target}: not a resource path")
    parts = match.groupdict()
    named = parts.get("name") is not None
    watch = parse_qs(split.query).get("watch", ["false"])[0] in {"1", "true"}
    verb = {
        "GET": "watch" if watch else ("get" if named else "list"),
        "POST": "create",
        "PUT": "update",
        "PATCH": "patch",
        "DELETE": "delete" if named else "deletecollection",
    }[method]
    resource = parts["res"] + (f"/{parts['sub']}" if parts.get("sub") else "")
    return KubernetesRequest(verb, parts.get("group") or "", resource, parts.get("ns"))


@dataclass(frozen=True)
class RbacRule:
    """One rule a binding grants: its role's rule, where (a Role's or RoleBinding's namespace; None: every
    namespace), and to which Kubernetes groups (the binding's Group subjects)."""

    api_groups: tuple[str, ...]
    resources: tuple[str, ...]
    verbs: tuple[str, ...]
    namespace: str | None
    groups: tuple[str, ...] = ()

    def allows(self, request: KubernetesRequest) -> bool:
        if self.namespace is not None and request.namespace != self.namespace:
            return False
        return (
            (request.group in self.api_groups or "*" in self.api_groups)
            and (request.resource in self.resources or "*" in self.resources)
            and (request.verb in self.verbs or "*" in self.verbs)
        )


def rbac_rules(documents: Iterable[Mapping[str, Any]]) -> list[RbacRule]:
    """The rules the RoleBindings and ClusterRoleBindings among Kubernetes objects grant (a role bound by
    nothing grants nothing). A RoleBinding grants its role's rules in its own namespace only."""
    docs = list(documents)
    roles = {(d["kind"], d["metadata"]["name"], d["metadata"].get("namespace")): d for d in docs
             if d.get("kind") in {"Role", "ClusterRole"}}  # fmt: skip
    rules = []
    for binding in (d for d in docs if d.get("kind") in {"RoleBinding", "ClusterRoleBinding"}):
        namespace = binding["metadata"].get("namespace") if binding["kind"] == "RoleBinding" else None
        ref = binding["roleRef"]
        role = roles.get((ref["kind"], ref["name"], namespace if ref["kind"] == "Role" else None), {})
        groups = tuple(s["name"] for s in binding.get("subjects") or [] if s.get("kind") == "Group")
        for rule in role.get("rules", []):
            rules.append(
                RbacRule(tuple(rule["apiGroups"]), tuple(rule["resources"]), tuple(rule["verbs"]), namespace, groups)
            )
    return rules


def job_rbac(cluster_template: Mapping[str, Any]) -> list[RbacRule]:
    """The RBAC the cluster stack installs for the pipeline's functions (the installer's JOB_RBAC manifest)."""
    for resource in cluster_template["Resources"].values():
        if resource["Type"] != "AWS::CodeBuild::Project":
            continue
        for variable in resource["Properties"]["Environment"].get("EnvironmentVariables", []):
            if variable["Name"] == "JOB_RBAC":
                return rbac_rules(d for d in yaml.safe_load_all(variable["Value"]) if d)
    raise LookupError("the cluster template installs no JOB_RBAC manifest")


def forbidden_requests(
    rules: Iterable[RbacRule], requests: Iterable[tuple[str, str]], groups: Iterable[str] | None = None
) -> list[str]:
    """Each request that no rule allows, as one line; with `groups`, only rules granted to one of them count."""
    rule_list = [r for r in rules if groups is None or set(r.groups) & set(groups)]
    problems = []
    for method, target in requests:
        request = kubernetes_request(method, target)
        if not any(rule.allows(request) for rule in rule_list):
            problems.append(
                f"{method} {target}: RBAC allows no {request.verb} on {request.group or 'core'}/{request.resource}"
            )
    return sorted(set(problems))


def kubernetes_groups(templates: Templates, function_id: str) -> list[str] | None:
    """The Kubernetes groups of a function's role in the cluster (its EKS access entries); None: no entry."""
    role = templates.stacks[_stack_of(templates, function_id)]["Resources"][function_id]["Properties"]["Role"]
    entries = [
        resource["Properties"]
        for template in templates.stacks.values()
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::EKS::AccessEntry" and resource["Properties"].get("PrincipalArn") == role
    ]
    return [group for entry in entries for group in entry.get("KubernetesGroups", [])] if entries else None


def unauthorised_requests(templates: Templates, requests: Mapping[str, Iterable[tuple[str, str]]]) -> list[str]:
    """Each Kubernetes request a function made that the synthesised app does not allow it, as one line naming the
    function: its role needs an EKS access entry, and the RBAC the cluster stack installs must grant one of the
    entry's groups the request (`requests`: function -> its (method, target) requests)."""
    rules = job_rbac(templates.stacks[CLUSTER])
    problems = []
    for function, made_requests in requests.items():
        made = list(made_requests)
        if not made:
            continue
        groups = kubernetes_groups(templates, function)
        if groups is None:
            problems.append(f"{function}: made Kubernetes requests, but its role has no EKS access entry")
            groups = []
        problems += [f"{function}: {problem}" for problem in forbidden_requests(rules, made, groups)]
    return sorted(problems)
