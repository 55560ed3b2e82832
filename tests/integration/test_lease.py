"""The capacity lease and the run queue (DynamoDB conditional writes, against moto)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from novacpt.adapters.lease import HELD, RELEASING, LeaseTable, QueueEntry, arrival_key

TABLE = "lease"
T0 = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)


def create_table(client: Any, name: str = TABLE) -> None:
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "group", "KeyType": "HASH"}, {"AttributeName": "entry", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "group", "AttributeType": "S"},
            {"AttributeName": "entry", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )


@pytest.fixture
def table() -> Iterator[LeaseTable]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_table(client)
        yield LeaseTable(client, TABLE, "nova-cpt/nova-p5")


def run(name: str, minute: int, replicas: int = 16) -> QueueEntry:
    return QueueEntry(
        name,
        f"arn:aws:states:us-east-1:123456789012:execution:m:{name}",
        arrival_key(T0 + timedelta(minutes=minute)),
        replicas,
    )


def test_first_arrival_takes_the_lease_and_records_who_and_when(table: LeaseTable) -> None:
    a = run("run-a", 0)
    table.join(a)
    got = table.try_acquire(a, job_name="job-a", now=T0 + timedelta(minutes=5))
    assert got.acquired and got.lease is not None
    lease = table.lease()
    assert lease is not None and lease == got.lease
    assert (lease.owner, lease.job_name, lease.replicas, lease.state) == ("run-a", "job-a", 16, HELD)
    assert lease.acquired_at == "2026-11-30T02:05:00.000000Z" and lease.owner_arn.endswith(":run-a")
    assert table.queue() == []  # taking the lease leaves the queue in the same transaction


def test_asking_again_is_idempotent_for_the_owner(table: LeaseTable) -> None:
    a = run("run-a", 0)
    table.join(a)
    first = table.try_acquire(a, job_name="job-a", now=T0)
    again = table.try_acquire(a, job_name="job-a", now=T0 + timedelta(hours=1))
    assert again.acquired and again.lease == first.lease


def test_a_later_run_waits_behind_the_holder_with_its_position(table: LeaseTable) -> None:
    a, b, c = run("run-a", 0), run("run-b", 1, replicas=8), run("run-c", 2)
    for entry in (a, b, c):
        table.join(entry)
    assert table.try_acquire(a, job_name="job-a", now=T0).acquired
    waiting_c = table.try_acquire(c, job_name="job-c", now=T0)
    waiting_b = table.try_acquire(b, job_name="job-b", now=T0)
    assert not waiting_b.acquired and waiting_b.position == 1 and waiting_b.lease is not None
    assert waiting_b.lease.owner == "run-a"
    assert not waiting_c.acquired and waiting_c.position == 2 and waiting_c.head == "run-b"
    assert [e.execution for e in table.queue()] == ["run-b", "run-c"]


def test_only_the_head_of_the_queue_may_take_a_free_lease(table: LeaseTable) -> None:
    a, b = run("run-a", 0), run("run-b", 1)
    table.join(b)
    table.join(a)  # joined later, but arrived (started) earlier: it is the head
    got_b = table.try_acquire(b, job_name="job-b", now=T0)
    assert not got_b.acquired and got_b.lease is None and got_b.position == 2 and got_b.head == "run-a"
    assert table.try_acquire(a, job_name="job-a", now=T0).acquired


def test_a_dead_head_is_removed_so_the_queue_moves(table: LeaseTable) -> None:
    a, b = run("run-a", 0), run("run-b", 1)
    table.join(a)
    table.join(b)
    got = table.try_acquire(b, job_name="job-b", now=T0, alive=lambda e: e.execution != "run-a")
    assert got.acquired
    assert table.queue() == []


def test_a_lost_queue_entry_is_written_again_in_arrival_order(table: LeaseTable) -> None:
    a, b = run("run-a", 0), run("run-b", 1)
    table.join(b)
    got = table.try_acquire(a, job_name="job-a", now=T0)  # a's entry was never written
    assert got.acquired


def test_release_only_by_the_owner(table: LeaseTable) -> None:
    a, b = run("run-a", 0), run("run-b", 1)
    table.join(a)
    table.join(b)
    table.try_acquire(a, job_name="job-a", now=T0)
    assert table.start_release("run-b", T0) is None
    assert table.release("run-b") is False
    assert table.release("never-ran") is False
    held = table.lease()
    assert held is not None and held.owner == "run-a" and held.state == HELD
    releasing = table.start_release("run-a", T0 + timedelta(hours=2))
    assert releasing is not None and releasing.state == RELEASING
    assert releasing.release_started_at == "2026-11-30T04:00:00.000000Z"
    again = table.start_release("run-a", T0 + timedelta(hours=3))  # the first start time is kept
    assert again is not None and again.release_started_at == releasing.release_started_at
    assert not table.try_acquire(b, job_name="job-b", now=T0).acquired  # still owned while it scales down
    assert table.release("run-a") is True
    assert table.lease() is None
    assert table.try_acquire(b, job_name="job-b", now=T0).acquired


def test_two_runs_racing_for_a_free_lease_get_one_owner(table: LeaseTable) -> None:
    """Both read a free lease; the conditional put lets only one of them take it."""
    a, b = run("run-a", 0), run("run-b", 0)
    table.join(a)
    table.join(b)
    real_lease = table.lease
    reads = iter([None, None])  # both runs read the lease once and see it free
    table.lease = lambda: next(reads, real_lease())  # type: ignore[method-assign]
    first = table.try_acquire(a, job_name="job-a", now=T0)
    table.queue = lambda: [b]  # type: ignore[method-assign]  # b believes it is the head
    second = table.try_acquire(b, job_name="job-b", now=T0)
    assert first.acquired and not second.acquired
    assert second.lease is not None and second.lease.owner == "run-a"


def test_leave_removes_only_that_run(table: LeaseTable) -> None:
    a, b = run("run-a", 0), run("run-b", 1)
    table.join(a)
    table.join(b)
    assert table.leave("run-a") is True
    assert table.leave("run-a") is False
    assert [e.execution for e in table.queue()] == ["run-b"]


def test_arrival_key_sorts_every_input_form_alike() -> None:
    assert arrival_key("2026-11-30T02:00:00Z") == arrival_key("2026-11-30T02:00:00.000+00:00")
    assert arrival_key("2026-11-30T03:00:00+01:00") == arrival_key(T0)
    assert arrival_key("2026-11-30T02:00:00.5Z") > arrival_key(T0)
