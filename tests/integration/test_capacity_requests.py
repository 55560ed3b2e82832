"""What SageMaker receives and what the operator reads when the restricted instance group is scaled.

Cases the main capacity suite leaves open, found by mutation testing (`make mutate`): a standard
group that names its image both ways, errors that must name the call and carry SageMaker's own
message, and a HyperPodBackend that hands the job's name through to the job backend.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.stub import Stubber

from novacpt.adapters.hyperpod import HyperPodBackend
from novacpt.kernel.errors import ClusterBusy, PipelineError
from novacpt.kernel.ports import CapacityStatus, JobState, JobStatus
from tests.integration.test_capacity import (
    CLUSTER,
    CLUSTER_ARN,
    STANDARD_GROUP,
    StubbedSageMaker,
    described,
    nodes,
    update_request,
)


@pytest.fixture
def sagemaker() -> Iterator[StubbedSageMaker]:
    stubbed = StubbedSageMaker()
    with stubbed.stubber:
        yield stubbed
        stubbed.stubber.assert_no_pending_responses()


def test_a_group_named_by_image_and_release_version_is_passed_back_with_its_image_only(
    sagemaker: StubbedSageMaker,
) -> None:
    """UpdateCluster takes one way of naming a group's image: the AMI id wins over the release version."""
    cluster = described(target=0)
    cluster["InstanceGroups"] = [{**STANDARD_GROUP, "CurrentImageReleaseVersion": "2026.01.1"}]
    sagemaker.describe(cluster)
    sagemaker.stubber.add_response("update_cluster", {"ClusterArn": CLUSTER_ARN}, update_request(8))
    assert sagemaker.capacity().prepare_capacity(8) is False


def test_a_group_named_by_release_version_only_keeps_it(sagemaker: StubbedSageMaker) -> None:
    cluster = described(target=0)
    group = {k: v for k, v in STANDARD_GROUP.items() if "ImageId" not in k}
    cluster["InstanceGroups"] = [{**group, "DesiredImageReleaseVersion": "2026.01.1"}]
    expected = update_request(8)
    expected["InstanceGroups"] = [
        {
            **{k: v for k, v in expected["InstanceGroups"][0].items() if k != "ImageId"},
            "ImageReleaseVersion": "2026.01.1",
        }
    ]
    sagemaker.describe(cluster)
    sagemaker.stubber.add_response("update_cluster", {"ClusterArn": CLUSTER_ARN}, expected)
    assert sagemaker.capacity().prepare_capacity(8) is False


def test_a_concurrent_update_says_what_sagemaker_said(sagemaker: StubbedSageMaker) -> None:
    sagemaker.describe(described(target=0))
    sagemaker.error("update_cluster", "ConflictException", message="cluster is being patched by alice")
    with pytest.raises(ClusterBusy, match="cluster is being patched by alice"):
        sagemaker.capacity().prepare_capacity(8)


def test_another_update_error_names_the_call_the_cluster_and_the_reason(sagemaker: StubbedSageMaker) -> None:
    sagemaker.describe(described(target=0))
    sagemaker.error("update_cluster", "ValidationException", message="InstanceCount must be even")
    with pytest.raises(PipelineError) as raised:
        sagemaker.capacity().prepare_capacity(8)
    message = str(raised.value)
    assert f"SageMaker update_cluster on {CLUSTER}" in message
    assert "InstanceCount must be even" in message


def test_the_hyperpod_backend_hands_the_job_name_and_attempt_to_the_job_backend() -> None:
    seen: list[tuple[str, Any]] = []

    class Jobs:
        def submit(self, job_name: str, execution: str, recipe: Any) -> None:
            seen.append(("submit", (job_name, execution, recipe)))

        def status(self, job_name: str, attempt: int) -> JobStatus:
            seen.append(("status", (job_name, attempt)))
            return JobStatus(JobState.RUNNING)

        def cancel(self, job_name: str) -> None:
            seen.append(("cancel", job_name))

    backend = HyperPodBackend(capacity=lambda: pytest.fail("no capacity call expected"), jobs=Jobs)
    recipe: Any = object()
    backend.submit("trial-1a2b", "exec-1", recipe)
    backend.status("trial-1a2b", 3)
    assert seen == [("submit", ("trial-1a2b", "exec-1", recipe)), ("status", ("trial-1a2b", 3))]


def test_stubbed_sagemaker_rejects_a_request_it_did_not_expect() -> None:
    """The stub is strict: an UpdateCluster with another count is an error, so the tests above mean something."""
    stubbed = StubbedSageMaker()
    with Stubber(stubbed.client) as stubber:
        stubber.add_response("update_cluster", {"ClusterArn": CLUSTER_ARN}, update_request(8))
        with pytest.raises(AssertionError, match="Expected parameters"):
            stubbed.client.update_cluster(**update_request(4))


@pytest.mark.parametrize(("counts", "target"), [({"CurrentCount": 4}, 4), ({}, 0)])
def test_a_group_described_without_a_target_count_is_sized_by_its_current_count(
    sagemaker: StubbedSageMaker, counts: dict[str, int], target: int
) -> None:
    """TargetCount and CurrentCount are both optional in DescribeCluster's answer."""
    cluster = described(target=0)
    group = {
        k: v for k, v in cluster["RestrictedInstanceGroups"][0].items() if k not in {"TargetCount", "CurrentCount"}
    }
    cluster["RestrictedInstanceGroups"][0] = {**group, **counts}
    sagemaker.describe(cluster)
    sagemaker.nodes(nodes(["Running"] * target))
    assert sagemaker.capacity().capacity_status() == CapacityStatus(target, target, "InService", "")
