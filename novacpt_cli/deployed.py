"""The deployed stacks' outputs: buckets and state machine, found by stack name (never typed by hand)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

import boto3
from botocore.exceptions import ClientError

STORAGE_STACK = "NovaCptStorage"
PIPELINE_STACK = "NovaCptPipeline"


class NotDeployed(RuntimeError):
    """A stack or output the command needs is missing."""


@dataclass(frozen=True)
class Deployed:
    """What the commands need from the deployment, and the clients to reach it."""

    data_bucket: str
    output_bucket: str
    archive_bucket: str
    state_machine_arn: str
    session: boto3.session.Session
    endpoint_url: str | None
    lease_table: str | None = None  # the capacity lease and run queue (older deployments have none)

    @property
    def account(self) -> str:
        """The deployment's account (from its state machine's ARN)."""
        return self.state_machine_arn.split(":")[4]

    def client(self, service: str) -> Any:
        """A client of this deployment's account and region (and emulator endpoint, if any).

        An S3 client names the deployment's account as the expected owner of every bucket it calls (as the
        pipeline does): a bucket of the same name in another account is refused, never read or written.
        """
        client = self.session.client(service, endpoint_url=self.endpoint_url)
        return owned_by(client, self.account) if service == "s3" else client


def owned_by(s3: Any, account: str) -> Any:
    """`s3`, naming `account` as the expected owner of every bucket it calls (and of every copy's source)."""
    s3.meta.events.register_first("provide-client-params.s3", partial(_expect_owner, account))
    return s3


def _expect_owner(account: str, params: dict[str, Any], model: Any, **_: Any) -> None:
    members = model.input_shape.members if model.input_shape is not None else {}
    for name in ("ExpectedBucketOwner", "ExpectedSourceBucketOwner"):
        if name in members:
            params.setdefault(name, account)


def _outputs(cloudformation: Any, stack: str) -> dict[str, str]:
    try:
        (found,) = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    except ClientError as exc:
        message = str(exc.response.get("Error", {}).get("Message", ""))
        if "does not exist" not in message:
            raise  # credentials, permissions, throttling: the error boundary says what to do
        region = cloudformation.meta.region_name
        raise NotDeployed(
            f"stack {stack} is not deployed in {region}: deploy it (make deploy) or pass --region/--stack of yours"
        ) from None
    return {o["OutputKey"]: o["OutputValue"] for o in found.get("Outputs", [])}


def find_deployment(
    *,
    storage_stack: str = STORAGE_STACK,
    pipeline_stack: str = PIPELINE_STACK,
    region: str | None = None,
    endpoint_url: str | None = None,
) -> Deployed:
    """Read both stacks' outputs; NotDeployed says which stack or output is missing."""
    session = boto3.session.Session(region_name=region)
    cloudformation = session.client("cloudformation", endpoint_url=endpoint_url)
    storage, pipeline = _outputs(cloudformation, storage_stack), _outputs(cloudformation, pipeline_stack)
    try:
        return Deployed(
            storage["DataBucketName"],
            storage["OutputBucketName"],
            storage["ArchiveBucketName"],
            pipeline["StateMachineArn"],
            session,
            endpoint_url,
            storage.get("LeaseTableName"),
        )
    except KeyError as exc:
        raise NotDeployed(f"output {exc.args[0]} missing from the stacks: redeploy them") from None
