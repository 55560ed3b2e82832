"""The lease table's requests and failures as DynamoDB sees them (botocore's Stubber against the API model).

The lease decides who may resize the instance group: every read must be strongly consistent, every
write must be conditional on the owner, and a failure must say which table and why.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from novacpt.adapters.lease import RELEASING, GroupView, Lease, LeaseTable, QueueEntry, arrival_key, read_all
from novacpt.kernel.errors import PipelineError, TransientError
from tests.integration.test_lease import create_table, run

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
    with pytest.raises(TransientError, match=f"DynamoDB get_item on the lease table {TABLE}") as raised:
        table.lease()
    assert "temporary DynamoDB error (ProvisionedThroughputExceededException)" in str(raised.value)


def test_a_missing_table_is_a_pipeline_error_naming_it(dynamo: tuple[LeaseTable, Stubber]) -> None:
    table, stub = dynamo
    stub.add_client_error("delete_item", "ResourceNotFoundException", "no table", http_status_code=400)
    with pytest.raises(PipelineError, match=f"DynamoDB delete_item on the lease table {TABLE}.*no table"):
        table.release("run-a")


# --------------------------------------------------------------------------- against moto's DynamoDB


@pytest.fixture
def moto_table() -> Iterator[LeaseTable]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_table(client, TABLE)
        yield LeaseTable(client, TABLE, GROUP)


def test_a_later_run_whose_entry_was_lost_waits_behind_the_earlier_one(moto_table: LeaseTable) -> None:
    early, late = run("run-b", 1), run("run-c", 2)
    moto_table.join(early)
    got = moto_table.try_acquire(late, job_name="job-c", now=T0)  # run-c's entry was never written
    assert got.acquired is False and got.lease is None
    assert (got.position, got.head) == (2, "run-b")
    assert [e.execution for e in moto_table.queue()] == ["run-b", "run-c"]  # written again, in arrival order
    assert moto_table.lease() is None


def test_a_run_that_changed_its_replicas_is_queued_with_the_new_count(moto_table: LeaseTable) -> None:
    holder, waiting = run("run-a", 0), run("run-b", 1, replicas=8)
    moto_table.join(holder)
    moto_table.join(waiting)
    assert moto_table.try_acquire(holder, job_name="job-a", now=T0).acquired
    moto_table.try_acquire(run("run-b", 1, replicas=32), job_name="job-b", now=T0)
    assert [(e.execution, e.replicas) for e in moto_table.queue()] == [("run-b", 32)]


def test_waiting_in_line_again_writes_nothing(dynamo: tuple[LeaseTable, Stubber]) -> None:
    """A run polling its place in the queue reads; it writes only when its entry is missing or changed."""
    table, stub = dynamo
    entry = run("run-b", 1, replicas=8)
    holder = {**key("lease"), "owner": {"S": "run-a"}, "replicas": {"N": "16"}, "job_name": {"S": "job-a"}}
    stub.add_response("get_item", {"Item": holder})
    stub.add_response("query", {"Items": [item("run-b", entry.arrived_at, 8)]})
    got = table.try_acquire(entry, job_name="job-b", now=T0)  # a put_item here would find no stubbed answer
    assert (got.acquired, got.position, got.head) == (False, 1, "run-b")
    assert got.lease is not None and got.lease.owner == "run-a"


def test_a_queue_entry_reads_back_as_it_was_written(moto_table: LeaseTable) -> None:
    entry = run("run-b", 1, replicas=24)
    moto_table.join(entry)
    assert moto_table.queue() == [entry]


def test_an_entry_written_without_arn_or_replicas_reads_with_empty_defaults(dynamo: tuple[LeaseTable, Stubber]) -> None:
    """Entries of a run that joined before its recipe was known carry no replicas (and older ones no ARN)."""
    table, stub = dynamo
    bare = {**key("queue#2026-11-30T02:00:00.000000Z#run-a"), "execution": {"S": "run-a"}}
    bare["arrived_at"] = {"S": "2026-11-30T02:00:00.000000Z"}
    stub.add_response("query", {"Items": [bare]})
    assert table.queue() == [QueueEntry("run-a", "", "2026-11-30T02:00:00.000000Z", 0)]


def test_a_lease_taken_by_another_run_in_the_same_instant_leaves_this_one_waiting(
    dynamo: tuple[LeaseTable, Stubber],
) -> None:
    table, stub = dynamo
    entry = run("run-b", 1)
    other = {**key("lease"), "owner": {"S": "run-x"}, "replicas": {"N": "8"}, "job_name": {"S": "job-x"}}
    stub.add_response("get_item", {})  # free when read
    stub.add_response("query", {"Items": [item("run-b", entry.arrived_at, 16)]})
    stub.add_client_error("transact_write_items", "TransactionCanceledException", "ConditionalCheckFailed")
    stub.add_response("get_item", {"Item": other})  # taken between the read and the write
    got = table.try_acquire(entry, job_name="job-b", now=T0)
    assert (got.acquired, got.position, got.head) == (False, 1, "run-b")
    assert got.lease is not None and (got.lease.owner, got.lease.replicas) == ("run-x", 8)


def test_another_transaction_error_is_raised_naming_the_call_and_the_table(dynamo: tuple[LeaseTable, Stubber]) -> None:
    table, stub = dynamo
    entry = run("run-b", 1)
    stub.add_response("get_item", {})
    stub.add_response("query", {"Items": [item("run-b", entry.arrived_at, 16)]})
    stub.add_client_error("transact_write_items", "ValidationException", "Item size has exceeded the maximum")
    with pytest.raises(PipelineError) as raised:
        table.try_acquire(entry, job_name="job-b", now=T0)
    assert f"DynamoDB TransactWriteItems on the lease table {TABLE}" in str(raised.value)
    assert "Item size has exceeded the maximum" in str(raised.value)


def test_a_lease_being_released_says_so() -> None:
    lease = Lease("run-a", "arn:run-a", "2026-11-30T02:00:00.000000Z", 16, "job-a", state=RELEASING)
    assert lease.describe() == "run run-a (scaling it down, since 2026-11-30T02:00:00.000000Z)"
    held = Lease("run-a", "arn:run-a", "2026-11-30T02:00:00.000000Z", 16, "job-a")
    assert held.describe() == "run run-a (job job-a on 16 instances, since 2026-11-30T02:00:00.000000Z)"


# --------------------------------------------------------------------------- what `cpt status` reads


def test_status_reads_every_group_consistently_across_pages() -> None:
    """Every page of the scan is read strongly consistent; each group shows its lease and its line in arrival order."""
    client = boto3.client("dynamodb", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    other = "nova-cpt/nova-p4"
    lease = {
        "group": {"S": GROUP},
        "entry": {"S": "lease"},
        "owner": {"S": "run-a"},
        "owner_arn": {"S": "arn:run-a"},
        "acquired_at": {"S": "2026-11-30T02:05:00.000000Z"},
        "replicas": {"N": "16"},
        "job_name": {"S": "job-a"},
        "state": {"S": RELEASING},
        "release_started_at": {"S": "2026-11-30T03:00:00.000000Z"},
    }
    late, early = item("run-c", "2026-11-30T02:02:00.000000Z", 4), item("run-b", "2026-11-30T02:01:00.000000Z")
    elsewhere = {**item("run-d", "2026-11-30T02:03:00.000000Z", 2), "group": {"S": other}}
    unknown = {**key("marker"), "owner": {"S": "nobody"}}  # neither the lease nor a queue entry
    first = {"TableName": TABLE, "ConsistentRead": True}
    with Stubber(client) as stub:
        stub.add_response("scan", {"Items": [late, elsewhere], "LastEvaluatedKey": key("x")}, first)
        stub.add_response("scan", {"Items": [unknown, lease, early]}, {**first, "ExclusiveStartKey": key("x")})
        views = read_all(client, TABLE)
        stub.assert_no_pending_responses()
    assert [v.group for v in views] == [other, GROUP]  # by name
    p4, p5 = views
    assert p5.lease == Lease(
        "run-a", "arn:run-a", "2026-11-30T02:05:00.000000Z", 16, "job-a", RELEASING, "2026-11-30T03:00:00.000000Z"
    )
    assert p5.queue == [
        QueueEntry("run-b", "arn:run-b", "2026-11-30T02:01:00.000000Z", 8),
        QueueEntry("run-c", "arn:run-c", "2026-11-30T02:02:00.000000Z", 4),
    ]
    assert p4 == GroupView(other, None, [QueueEntry("run-d", "arn:run-d", "2026-11-30T02:03:00.000000Z", 2)])


def test_status_places_a_run_as_owner_releasing_in_line_or_nowhere() -> None:
    held = Lease("run-a", "arn:run-a", "2026-11-30T02:00:00.000000Z", 16, "job-a")
    line = [run("run-b", 1), run("run-c", 2)]
    view = GroupView(GROUP, held, line)
    assert [view.place(r) for r in ("run-a", "run-b", "run-c", "run-z")] == ["owner", "in line 1", "in line 2", ""]
    releasing = GroupView(GROUP, Lease("run-a", "arn:run-a", held.acquired_at, 16, "job-a", RELEASING), [])
    assert (releasing.place("run-a"), releasing.place("run-b")) == ("releasing", "")
    assert GroupView(GROUP, None, line).place("run-c") == "in line 2"


@pytest.fixture
def tokyo() -> Iterator[None]:
    """The machine's local time zone is not UTC (a laptop, a Lambda with TZ set); restored afterwards."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "Asia/Tokyo"
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = before
        time.tzset()


@pytest.mark.usefixtures("tokyo")
def test_arrival_order_is_utc_whatever_the_local_time_zone() -> None:
    aware = datetime(2026, 11, 30, 11, 0, tzinfo=timezone(timedelta(hours=9)))
    naive = datetime(2026, 11, 30, 2, 0)  # Step Functions' times are UTC without a zone
    assert (
        arrival_key(aware) == arrival_key(naive) == arrival_key("2026-11-30T02:00:00Z") == "2026-11-30T02:00:00.000000Z"
    )
