"""The functions CDK adds that run only while CloudFormation deploys (custom resource handlers).

They cannot take this project's function settings; their checkov findings are skipped with the
reasons below, and the AwsCustomResource framework's managed policy is acknowledged.
"""

from __future__ import annotations

from typing import Final

from aws_cdk import Stack
from aws_cdk import custom_resources as cr
from constructs import IConstruct

from stacks.shared.nag import acknowledge_managed_policies, skip_checkov

_SKIPS: Final = {
    "CKV_AWS_116": "CloudFormation invokes this handler during a deployment and waits for its answer: a failed "
    "invocation fails the deployment, so a dead-letter queue would hold nothing to act on.",
    "CKV_AWS_117": "It runs only during a deployment and calls only AWS APIs; in the cluster's VPC it would depend on "
    "endpoints that the same deployment creates, and it reaches nothing private.",
    "CKV_AWS_115": "At most a few invocations per deployment: reserving concurrency would only take capacity from "
    "the account's shared pool.",
}


def skip_deploy_function_checks(function: IConstruct, purpose: str) -> None:
    """Skip the Lambda checks that do not apply to a deploy-time handler; `purpose` says what it does."""
    for check_id, reason in _SKIPS.items():
        skip_checkov(function, check_id, f"{purpose}. {reason}")


def vpc_default_security_group_handler(stack: Stack) -> None:
    """The handler CDK adds to strip the default security group of a VPC of its rules."""
    provider = stack.node.find_child("Custom::VpcRestrictDefaultSGCustomResourceProvider")
    skip_deploy_function_checks(
        provider.node.find_child("Handler"), "CDK's handler that removes every rule of the VPC's default security group"
    )


def aws_custom_resource_provider(stack: Stack) -> None:
    """The AwsCustomResource framework's function (one per stack, shared by its custom resources)."""
    provider = stack.node.find_child("AWS" + cr.AwsCustomResource.PROVIDER_FUNCTION_UUID.replace("-", ""))
    acknowledge_managed_policies(
        provider,
        ["service-role/AWSLambdaBasicExecutionRole"],
        "The AwsCustomResource framework's function runs with AWSLambdaBasicExecutionRole (CloudWatch Logs "
        "only); its API permissions are inline statements scoped to the one call each custom resource makes.",
    )
    skip_deploy_function_checks(provider, "The AwsCustomResource framework's function makes one AWS API call")
