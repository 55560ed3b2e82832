"""The capacity wait as the run sees it: when it gives up, what it records, and what it tells the operator.

The clock is the step module's `_now`, set per test; the backend is a small capacity fake that
answers as the instance group would.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from novacpt.kernel.errors import CapacityUnavailable
from novacpt.kernel.ports import CapacityStatus
from novacpt.steps import capacity as steps
from novacpt.steps.capacity import CapacityWait, check_capacity_step, prepare_capacity_step
from tests.examples import recipe_summary

T0 = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)


class Group:
    """An instance group that is ready once `ready_after` checks have been made."""

    def __init__(self, ready_after: int = 99) -> None:
        self.asked: list[int] = []
        self.ready_after = ready_after

    def prepare_capacity(self, replicas: int) -> bool:
        self.asked.append(replicas)
        return len(self.asked) > self.ready_after

    def capacity_status(self) -> CapacityStatus:
        return CapacityStatus(16, 3, "Updating", "InsufficientInstanceCapacity in us-west-2b")

    def release_capacity(self) -> None:
        raise AssertionError("the step never releases: the failure path does")


def at(monkeypatch: pytest.MonkeyPatch, moment: datetime) -> None:
    monkeypatch.setattr(steps, "_now", lambda: moment)


WAIT = CapacityWait(interval_seconds=120, max_seconds=1800)


def test_prepare_records_when_the_wait_began_and_how_often_to_look(monkeypatch: pytest.MonkeyPatch) -> None:
    at(monkeypatch, T0)
    group = Group()
    state = prepare_capacity_step(group, recipe_summary(), WAIT)
    assert group.asked == [16]  # the recipe's replicas (Nova Lite ready recipe)
    assert (state.replicas, state.ready, state.waited_seconds, state.interval_seconds) == (16, False, 0, 120)
    assert datetime.fromisoformat(state.requested_at) == T0


def test_each_check_records_the_time_waited_so_far(monkeypatch: pytest.MonkeyPatch) -> None:
    at(monkeypatch, T0)
    group = Group(ready_after=2)
    state = prepare_capacity_step(group, recipe_summary(), WAIT)
    at(monkeypatch, T0 + timedelta(seconds=601.4))
    state = check_capacity_step(group, state, WAIT)
    assert (state.ready, state.waited_seconds, state.interval_seconds) == (False, 601, 120)
    at(monkeypatch, T0 + timedelta(seconds=1200))
    state = check_capacity_step(group, state, CapacityWait(interval_seconds=30, max_seconds=1800))
    assert (state.ready, state.waited_seconds, state.interval_seconds) == (True, 1200, 30)  # today's settings
    assert group.asked == [16, 16, 16]


def test_the_wait_ends_exactly_at_its_bound_with_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    at(monkeypatch, T0)
    group = Group()
    state = prepare_capacity_step(group, recipe_summary(), WAIT)
    at(monkeypatch, T0 + timedelta(seconds=1799))
    assert check_capacity_step(group, state, WAIT).ready is False  # one second left: keep waiting
    at(monkeypatch, T0 + timedelta(seconds=1800))
    with pytest.raises(CapacityUnavailable) as raised:
        check_capacity_step(group, state, WAIT)
    message = str(raised.value)
    assert message.startswith("16 x ml.p5.48xlarge were not in service after 30 minutes (3 of 16 instances in service")
    assert "InsufficientInstanceCapacity in us-west-2b" in message
    assert "(nova-cpt:rig_availability_zone)" in message  # no zone configured: none named
    assert "training plan (nova-cpt:training_plan_arn)" in message  # no plan set
    assert "lower run.replicas" in message and "nova-cpt:max_capacity_wait_minutes" in message


def test_capacity_that_arrives_at_the_bound_is_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    at(monkeypatch, T0)
    group = Group(ready_after=1)
    state = prepare_capacity_step(group, recipe_summary(), WAIT)
    at(monkeypatch, T0 + timedelta(hours=2))
    assert check_capacity_step(group, state, WAIT).ready is True


def test_the_message_names_the_configured_zone_and_asks_whether_the_plan_is_active(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wait = CapacityWait(interval_seconds=60, max_seconds=5400, zone="us-west-2a", training_plan=True)
    at(monkeypatch, T0)
    state = prepare_capacity_step(Group(), recipe_summary(), wait)
    at(monkeypatch, T0 + timedelta(hours=3))
    with pytest.raises(CapacityUnavailable) as raised:
        check_capacity_step(Group(), state, wait)
    message = str(raised.value)
    assert "after 90 minutes" in message
    assert "(nova-cpt:rig_availability_zone, now us-west-2a)" in message
    assert "(nova-cpt:training_plan_arn, set now: is it active?)" in message
