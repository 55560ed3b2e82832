"""The scripted fake cluster keeps its jobs and refuses what the real cluster refuses."""

from __future__ import annotations

import pytest

from novacpt.kernel.errors import PipelineError
from novacpt.kernel.ports import JobState
from novacpt_dev.fakes import FakeClusterSettings, ScriptedCluster
from novacpt_dev.hyperpod_fake import EmulatedCluster, FakeHyperPod, hyperpod_installed


def test_a_name_taken_by_another_execution_is_refused_and_a_repeat_of_the_same_is_not() -> None:
    cluster = ScriptedCluster(["RUNNING"])
    cluster.submit("job-a", "run-a", object())
    cluster.submit("job-a", "run-a", object())  # a retried SubmitJob of the same execution: already created
    with pytest.raises(PipelineError, match="job job-a already exists for execution run-a, not run-b"):
        cluster.submit("job-a", "run-b", object())
    assert cluster.jobs == {"job-a": "run-a"}


def test_only_a_submitted_job_has_a_status() -> None:
    cluster = ScriptedCluster(["RUNNING", "SUCCEEDED"])
    never = cluster.status("job-x", 0)
    assert never.state is JobState.FAILED and "job-x does not exist" in never.reason
    cluster.submit("job-a", "run-a", object())
    assert [cluster.status("job-a", n).state for n in range(3)] == [
        JobState.RUNNING,
        JobState.SUCCEEDED,
        JobState.SUCCEEDED,
    ]


def test_a_cancelled_job_is_gone_and_a_cancel_of_an_unknown_job_is_reported() -> None:
    cluster = ScriptedCluster(["RUNNING"])
    cluster.submit("job-a", "run-a", object())
    cluster.cancel("job-a")
    cluster.cancel("job-a")  # idempotent, as deleting a deleted PyTorchJob
    cluster.cancel("job-x")
    assert cluster.cancelled == ["job-a"] and cluster.unknown_cancels == ["job-a", "job-x"]
    assert cluster.status("job-a", 0).state is JobState.FAILED
    cluster.submit("job-a", "run-b", object())  # its name is free again
    assert cluster.jobs == {"job-a": "run-b"}


def test_capacity_is_not_released_while_a_job_runs() -> None:
    cluster = ScriptedCluster(["RUNNING", "FAILED"], failure_reason="NCCL timeout")
    assert cluster.release_capacity() is True  # nothing runs
    cluster.submit("job-a", "run-a", object())
    assert cluster.release_capacity() is False
    assert cluster.violations == ["capacity released while job-a ran"]
    assert cluster.status("job-a", 1).reason == "NCCL timeout"  # the job ended
    assert cluster.release_capacity() is True
    assert cluster.violations == ["capacity released while job-a ran"] and cluster.releases == 3


def test_a_cancelled_job_does_not_hold_the_capacity() -> None:
    cluster = ScriptedCluster(["RUNNING"])
    cluster.submit("job-a", "run-a", object())
    cluster.cancel("job-a")
    assert cluster.release_capacity() is True and cluster.violations == []


def test_the_emulated_pipeline_cluster_is_the_installed_hyperpod_fake() -> None:
    with pytest.raises(RuntimeError, match="no HyperPod fake is installed"):
        FakeClusterSettings().cluster()
    with hyperpod_installed(FakeHyperPod()) as fake:
        cluster = FakeClusterSettings(fake_job_states="RUNNING,FAILED").cluster()
        assert isinstance(cluster, EmulatedCluster) and cluster.fake is fake
        assert [s.value for s in cluster.states] == ["RUNNING", "FAILED"]
