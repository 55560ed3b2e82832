"""The release workflow's ScaleDown step and WatchCapacity, on the stateful HyperPod fake and a moto lease table.

ScaleDown waits out a scale-up still in flight (ClusterBusy) and throttling, asks for the resting size once,
ends the lease only when the group is at rest, and gives up loudly (ReleaseStuck) after its bound.
WatchCapacity reports the instances above rest that no run owns (the UnownedInstances alarm's metric).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import boto3
import pytest
from moto import mock_aws

from novacpt.adapters.lease import RELEASING, LeaseTable
from novacpt.kernel.errors import ReleaseStuck, TransientError
from novacpt.steps.lease import Bound, scale_down_step
from novacpt_dev.hyperpod_fake import EmulatedCluster, FakeHyperPod
from tests.integration.test_lease import T0, TABLE, create_table, run

GROUP = "nova-cpt/nova-p5"
BOUND = Bound(interval_seconds=60, max_seconds=4 * 3600)
STARTED = T0.isoformat()


@pytest.fixture
def table() -> Iterator[LeaseTable]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_table(client)
        yield LeaseTable(client, TABLE, GROUP)


def _owned_scale_up(table: LeaseTable, fake: FakeHyperPod, owner: str = "run-a") -> EmulatedCluster:
    """`owner` holds the lease and has asked for 16 instances (the scale-up may still be in flight)."""
    entry = run(owner, 0)
    table.join(entry)
    assert table.try_acquire(entry, job_name=f"job-{owner}", now=T0).acquired
    cluster = EmulatedCluster(fake, ["RUNNING"])
    cluster.prepare_capacity(16)
    table.start_release(owner, T0)
    return cluster


def _look(table: LeaseTable, cluster: EmulatedCluster, owner: str = "run-a", minutes: float = 5) -> dict[str, object]:
    return scale_down_step(table, cluster, owner, BOUND, started_at=STARTED, now=T0 + timedelta(minutes=minutes))


def test_a_release_waits_out_the_scale_up_then_scales_down_then_ends_the_lease(table: LeaseTable) -> None:
    fake = FakeHyperPod(update_describes=10**6)
    fake.hold_updates = True
    cluster = _owned_scale_up(table, fake)
    for _ in range(3):  # the scale-up is in flight: look again, never a second update
        answer = _look(table, cluster)
        assert answer["done"] is False and answer["interval_seconds"] == 60 and "Updating" in str(answer["note"])
    assert (fake.target, fake.conflicts, len(fake.scales)) == (16, 0, 1)
    fake.complete_update()
    assert _look(table, cluster)["done"] is False  # asked for the resting size
    assert [(s.before, s.after) for s in fake.scales] == [(0, 16), (16, 0)]
    lease = table.lease()
    assert lease is not None and lease.state == RELEASING  # still owned until the group is at rest
    assert _look(table, cluster)["done"] is False
    fake.complete_update()
    assert _look(table, cluster) == {"done": True, "owned": True}
    assert table.lease() is None and fake.current == 0
    assert len(fake.scales) == 2


def test_throttling_only_means_look_again(table: LeaseTable) -> None:
    fake = FakeHyperPod()
    _owned_scale_up(table, fake)

    class Throttled(EmulatedCluster):
        def release_capacity(self) -> bool:
            raise TransientError("SageMaker DescribeCluster: ThrottlingException, retrying")

    throttled = Throttled(fake, ["RUNNING"])
    answer = _look(table, throttled)
    assert answer["done"] is False and "ThrottlingException" in str(answer["note"])
    assert table.lease() is not None


def test_after_the_bound_the_release_fails_loudly_and_keeps_the_lease(table: LeaseTable) -> None:
    fake = FakeHyperPod()
    fake.hold_updates = True
    cluster = _owned_scale_up(table, fake)
    with pytest.raises(ReleaseStuck) as stuck:
        _look(table, cluster, minutes=4 * 60 + 1)
    message = str(stuck.value)
    assert "run-a" in message and "4.0 h" in message and "A group without an owner" in message
    assert "Updating" in message  # what the group is doing, for whoever acts on the alarm
    lease = table.lease()
    assert lease is not None and lease.owner == "run-a"  # nobody else scales a group that may hold a job
    assert fake.target == 16


def test_a_release_for_a_run_that_does_not_own_the_group_touches_nothing(table: LeaseTable) -> None:
    fake = FakeHyperPod()
    cluster = _owned_scale_up(table, fake, owner="run-a")
    fake.complete_update()
    assert _look(table, cluster, owner="run-b") == {"done": True, "owned": False}
    assert [(s.before, s.after) for s in fake.scales] == [(0, 16)]
    lease = table.lease()
    assert lease is not None and lease.owner == "run-a"


# --------------------------------------------------------------------------- WatchCapacity


@pytest.fixture
def watch_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHyperPod]:
    from lambdas import runtime

    fake = FakeHyperPod()
    monkeypatch.setattr(runtime, "cluster_factory", lambda: EmulatedCluster(fake, ["RUNNING"]))
    for name, value in {
        "LEASE_TABLE": TABLE,
        "LEASE_GROUP": GROUP,
        "HYPERPOD_CLUSTER_NAME": "nova-cpt",
        "INSTANCE_GROUP": "nova-p5",
        "RESTING_COUNT": "0",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        create_table(boto3.client("dynamodb", region_name="us-east-1"))
        yield fake


def _watch(capsys: pytest.CaptureFixture[str]) -> tuple[dict[str, object], dict[str, float]]:
    """One WatchCapacity invocation: its answer, and the metrics CloudWatch would receive (EMF on stdout)."""
    from lambdas.lease import watch
    from novacpt_dev.emulator.invoke import FakeContext

    capsys.readouterr()
    context = FakeContext("WatchCapacity", 256, "arn:aws:lambda:us-east-1:123456789012:function:WatchCapacity")
    answer = watch({}, context)
    metrics: dict[str, float] = {}
    for line in capsys.readouterr().out.splitlines():
        record = json.loads(line) if line.startswith("{") else {}
        if "_aws" in record:
            for directive in record["_aws"]["CloudWatchMetrics"]:
                assert directive["Namespace"] == "NovaCpt"
                for metric in directive["Metrics"]:
                    value = record[metric["Name"]]
                    metrics[metric["Name"]] = value[0] if isinstance(value, list) else value
    return answer, metrics


def test_watch_reports_instances_no_run_owns(watch_env: FakeHyperPod, capsys: pytest.CaptureFixture[str]) -> None:
    fake = watch_env
    table = LeaseTable(boto3.client("dynamodb", region_name="us-east-1"), TABLE, GROUP)
    answer, metrics = _watch(capsys)
    assert answer == {"unowned_instances": 0, "lease_owner": None, "queued_runs": 0}
    assert metrics == {"UnownedInstances": 0, "LeaseHeld": 0, "QueuedRuns": 0}

    entry, waiting = run("run-a", 0), run("run-b", 1)
    table.join(entry)
    table.join(waiting)
    assert table.try_acquire(entry, job_name="job-a", now=T0).acquired
    EmulatedCluster(fake, ["RUNNING"]).prepare_capacity(16)
    answer, metrics = _watch(capsys)  # owned and in line: nothing unowned
    assert answer == {"unowned_instances": 0, "lease_owner": "run-a", "queued_runs": 1}
    assert metrics == {"UnownedInstances": 0, "LeaseHeld": 1, "QueuedRuns": 1}

    table.release("run-a")  # the lease ends (deleted by hand, say) while 16 instances are still asked for
    answer, metrics = _watch(capsys)
    assert answer["unowned_instances"] == 16 and metrics["UnownedInstances"] == 16
    assert metrics["LeaseHeld"] == 0
