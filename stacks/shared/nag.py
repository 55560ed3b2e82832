"""cdk-nag 3.x wiring, shared by app.py and the tests.

cdk-nag 3.x is a CDK *policy validation plugin*: it is registered with
``Validations.of(app).add_plugins(AwsSolutionsChecks(app))`` and runs when the app
synthesises. Any finding that is not acknowledged (severity error *or* warning) makes
``app.synth()`` raise ``ValidationFailed`` and writes ``validation-report.json`` into
the cloud assembly directory; the CDK CLI then exits non-zero.

Findings are acknowledged next to the resource that causes them, with
``acknowledge(construct, "AwsSolutions-XX", "reason")`` (CDK's
``Validations.of(construct).acknowledge(...)``); an acknowledgement covers the
construct and everything below it. The 2.x ``Aspects``/``NagSuppressions`` API no
longer exists.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Final

from aws_cdk import Acknowledgment, CfnResource, Stack, Stage, Validations
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

VALIDATION_REPORT: Final = "validation-report.json"
"""File the CDK writes into the cloud assembly directory when a validation plugin reports findings."""

CHECKOV_METADATA: Final = "checkov"
"""Template Metadata key where checkov finds the checks skipped on a resource (see `skip_checkov`)."""


def add_nag_checks(scope: Stage) -> None:
    """Run the AWS Solutions rule pack over every stack of `scope` (an App or Stage) at synth.

    Acknowledged rules are also written into each resource's template ``Metadata``
    (``cdk_nag.rules_to_suppress``) as an audit trail for reviewers of the template.
    """
    Validations.of(scope).add_plugins(AwsSolutionsChecks(scope, write_suppressions_to_cloud_formation=True))


def acknowledge(construct: IConstruct, rule_id: str, reason: str) -> None:
    """Acknowledge one cdk-nag finding on `construct` (and its children) with a specific reason."""
    if not reason.strip():
        raise ValueError(f"an acknowledgement of {rule_id} needs a reason")
    Validations.of(construct).acknowledge(Acknowledgment(id=rule_id, reason=reason))


def _flatten(node: Any) -> str:
    """A resolved CloudFormation value as cdk-nag writes it in a finding (its flattenCfnReference)."""
    if node is None:
        return ""
    if isinstance(node, str):
        return node.replace("${", "<").replace("}", ">")
    if isinstance(node, dict):
        if "Fn::Join" in node:
            delimiter, items = node["Fn::Join"]
            return str(delimiter).join(_flatten(item) for item in items)
        if "Fn::Sub" in node:
            return _flatten(node["Fn::Sub"])
        if "Fn::GetAtt" in node:
            resource, attribute = node["Fn::GetAtt"]
            return f"<{_flatten(resource)}.{_flatten(attribute)}>"
        if "Fn::ImportValue" in node:
            return _flatten(node["Fn::ImportValue"])
        if "Ref" in node:
            return f"<{_flatten(node['Ref'])}>"
    return json.dumps(node, separators=(",", ":"), ensure_ascii=False)


def acknowledge_wildcard_resources(construct: IConstruct, resources: Sequence[str], reason: str) -> None:
    """Acknowledge the AwsSolutions-IAM5 finding of each wildcard resource (ARN or token) granted under `construct`.

    cdk-nag 3.x needs one acknowledgement per finding, named after the resource as it appears
    in the template; this computes those names the way cdk-nag does.
    """
    stack = Stack.of(construct)
    for resource in resources:
        acknowledge(construct, f"AwsSolutions-IAM5[Resource::{_flatten(stack.resolve(resource))}]", reason)


def acknowledge_managed_policies(construct: IConstruct, policies: Sequence[str], reason: str) -> None:
    """Acknowledge the AwsSolutions-IAM4 finding of each AWS managed policy attached under `construct`.

    `policies` are names as in their ARN after ``policy/``, e.g. ``service-role/AWSLambdaBasicExecutionRole``.
    """
    for policy in policies:
        acknowledge(construct, f"AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/{policy}]", reason)


def skip_checkov(construct: IConstruct, check_id: str, reason: str) -> None:
    """Skip one checkov check on the CloudFormation resource of `construct`, with a specific reason.

    Checkov reads ``Metadata: {checkov: {skip: [{id, comment}]}}`` of each template resource;
    skips on the same resource accumulate. `construct` is an L1 resource or an L2 construct
    whose default child is one.
    """
    if not reason.strip():
        raise ValueError(f"a checkov skip of {check_id} needs a reason")
    resource = construct if isinstance(construct, CfnResource) else construct.node.default_child
    if not isinstance(resource, CfnResource):
        raise TypeError(f"{construct.node.path} has no CloudFormation resource to carry a checkov skip")
    metadata = resource.get_metadata(CHECKOV_METADATA) or {}
    skips = [*metadata.get("skip", []), {"id": check_id, "comment": reason}]
    resource.add_metadata(CHECKOV_METADATA, {**metadata, "skip": skips})
