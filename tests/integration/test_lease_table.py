"""The lease table's requests and failures as DynamoDB sees them (botocore's Stubber against the API model).

The lease decides who may resize the instance group: every read must be strongly consistent, every
write must be conditional on the owner, and a failure must say which table and why.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from novacpt.adapters.lease import LeaseTable, QueueEntry
from novacpt.kernel.errors import PipelineError, TransientError

TABLE, GROUP = "nova-lease", "nova-cpt/nova-p5"
T0 = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)


@pytest.fixture
def dynamo() -> Iterator[tuple[LeaseTable, Stubber]]:
    client = boto3.client("dynamodb", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stubber:
        yield LeaseTable(client, TABLE, GROUP), stubber
        stubber.assert_no_pending_responses()


def key(entry: str) -> dict[str, Any]:
    return {"group": {"S": GROUP}, "entry": {"S": entry}}


def item(execution: str, arrived: str, replicas: int = 8) -> dict[str, Any]:
    return {
        **key(f"queue#{arrived}#{execution}"),
        "execution": {"S": execution},
        "execution_arn": {"S": f"arn:{execution}"},
        "arrived_at": {"S": arrived},
        "replicas": {"N": str(replicas)},
    }


def query(start: dict[str, Any] | None = None) -> dict[str, Any]:
    request: dict[str, Any] = {
        "TableName": TABLE,
        "KeyConditionExpression": "#g = :g AND begins_with(#e, :q)",
        "ExpressionAttributeNames": {"#g": "group", "#e": "entry"},
        "ExpressionAttributeValues": {":g": {"S": GROUP}, ":q": {"S": "queue#"}},
        "ConsistentRead": True,
    }
    if start:
        request["ExclusiveStartKey"] = start
    return request


def test_the_queue_is_read_consistently_across_every_page(dynamo: tuple[LeaseTable, Stubber]) -> None:
    table, stub = dynamo
    last = key("queue#2026-11-30T02:01:00.000000Z#run-b")
    stub.add_response(
        "query",
        {
            "Items": [item("run-a", "2026-11-30T02:00:00.000000Z"), item("run-b", "2026-11-30T02:01:00.000000Z")],
            "LastEvaluatedKey": last,
        },
        query(),
    )
    stub.add_response("query", {"Items": [item("run-c", "2026-11-30T02:02:00.000000Z", 16)]}, query(last))
    queue = table.queue()
    assert [(e.execution, e.replicas) for e in queue] == [("run-a", 8), ("run-b", 8), ("run-c", 16)]
    assert queue[2] == QueueEntry("run-c", "arn:run-c", "2026-11-30T02:02:00.000000Z", 16)


def test_the_lease_is_read_consistently(dynamo: tuple[LeaseTable, Stubber]) -> None:
    table, stub = dynamo
    stub.add_response("get_item", {}, {"TableName": TABLE, "Key": key("lease"), "ConsistentRead": True})
    assert table.lease() is None


def test_a_throttled_read_is_transient_and_names_the_table(dynamo: tuple[LeaseTable, Stubber]) -> None:
    table, stub = dynamo
    stub.add_client_error("get_item", "ProvisionedThroughputExceededException", "slow down", http_status_code=400)
    with pytest.raises(TransientError, match=f"DynamoDB get_item on the lease table {TABLE}"):
        table.lease()


def test_a_missing_table_is_a_pipeline_error_naming_it(dynamo: tuple[LeaseTable, Stubber]) -> None:
    table, stub = dynamo
    stub.add_client_error("delete_item", "ResourceNotFoundException", "no table", http_status_code=400)
    with pytest.raises(PipelineError, match=f"DynamoDB delete_item on the lease table {TABLE}.*no table"):
        table.release("run-a")
