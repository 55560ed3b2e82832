"""The stateful HyperPod fake, driven by the pipeline's real capacity code (HyperPodCapacity)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from novacpt.adapters.hyperpod import HyperPodCapacity
from novacpt.kernel.errors import ClusterBusy
from novacpt.kernel.ports import JobState
from novacpt_dev.hyperpod_fake import EmulatedCluster, FakeHyperPod


def _recipe(replicas: int) -> SimpleNamespace:
    """What the fake reads of a recipe: run.replicas."""
    return SimpleNamespace(run=SimpleNamespace(replicas=replicas))


def capacity(fake: FakeHyperPod) -> HyperPodCapacity:
    return HyperPodCapacity(fake.sagemaker, fake.cluster_name, fake.group, resting_count=0)


def test_a_scale_up_is_updating_until_the_instances_are_in_service() -> None:
    fake = FakeHyperPod(update_describes=2)
    group = capacity(fake)
    assert group.prepare_capacity(16) is False
    assert (fake.cluster_status, fake.target, fake.current) == ("Updating", 16, 0)
    assert group.prepare_capacity(16) is False  # still Updating: nothing new is asked
    assert group.prepare_capacity(16) is True
    assert [(s.before, s.after) for s in fake.scales] == [(0, 16)]
    assert group.capacity_status().in_service == 16


def test_an_overlapping_update_is_cluster_busy() -> None:
    fake = FakeHyperPod()
    fake.hold_updates = True
    group = capacity(fake)
    group.prepare_capacity(16)
    with pytest.raises(ClusterBusy):
        group.release_capacity()
    assert fake.conflicts == 0  # the capacity code saw Updating and did not even ask
    with pytest.raises(ClusterBusy, match="being updated"):
        group._update(group._describe(), 0)  # an UpdateCluster sent anyway is refused
    assert fake.conflicts == 1
    fake.complete_update()
    group.release_capacity()
    fake.complete_update()
    assert (fake.target, fake.current) == (0, 0)


def test_what_must_never_happen_is_recorded() -> None:
    fake = FakeHyperPod(update_describes=1)
    group = capacity(fake)
    fake.hold_jobs = True
    while not group.prepare_capacity(16):
        pass
    fake.submit("job-a", "run-job-a", _recipe(16))
    fake.submit("job-b", "run-job-b", _recipe(16))
    group.release_capacity()
    assert fake.violations == [
        "job job-b started while job-a ran on the group",
        "scaled 16 -> 0 while job-a, job-b ran on 32",
    ]


def test_jobs_follow_their_script_unless_held() -> None:
    fake = FakeHyperPod()
    backend = EmulatedCluster(fake, ["RUNNING", "RUNNING", "SUCCEEDED"])
    backend.submit("job-a", "run-job-a", _recipe(0))
    assert [backend.status("job-a", n).state for n in range(4)] == [
        JobState.RUNNING,
        JobState.RUNNING,
        JobState.SUCCEEDED,
        JobState.SUCCEEDED,
    ]
    assert fake.running_jobs() == []
    fake.hold_jobs = True
    backend.submit("job-b", "run-job-b", _recipe(0))
    assert backend.status("job-b", 5).state is JobState.RUNNING
    fake.finish("job-b", "FAILED", "NCCL timeout")
    assert backend.status("job-b", 6).reason == "NCCL timeout"
    backend.submit("job-c", "run-job-c", _recipe(0))
    backend.cancel("job-c")
    assert backend.status("job-c", 0).state is JobState.FAILED
    assert backend.status("job-x", 0).reason == "job job-x does not exist"
