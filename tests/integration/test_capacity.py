"""Capacity of the P5 restricted instance group: HyperPodCapacity, the capacity steps and handlers, the wait loop.

moto 5.2.5 has SageMaker CreateCluster, DescribeCluster and ListClusterNodes, but no UpdateCluster and no
restricted instance groups: the tests of an existing cluster's errors use moto; every scaling test uses a
real botocore client with botocore's Stubber, which checks each request and response against the
SageMaker API model (so the UpdateCluster request built from DescribeCluster is a valid one).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws
from pydantic import ValidationError

from lambdas import runtime
from novacpt.adapters.hyperpod import HyperPodBackend, HyperPodCapacity
from novacpt.adapters.lease import LeaseTable, QueueEntry
from novacpt.kernel.errors import CapacityUnavailable, ClusterBusy, PipelineError, TransientError
from novacpt.kernel.ports import CapacityStatus, JobState, JobStatus
from novacpt.kernel.settings import ClusterSettings, JobSettings
from novacpt.recipe import validate_recipe_bytes
from novacpt.steps.capacity import (
    CapacityWait,
    check_capacity_step,
    prepare_capacity_step,
)
from novacpt.steps.lease import aborted_step
from novacpt_dev.fakes import ScriptedCluster
from tests.examples import recipe_summary
from tests.integration.emulated import Pipeline, lite_recipe, put_outputs
from tests.integration.test_lease import create_table

REGION = "us-east-1"
ACCOUNT = "123456789012"
CLUSTER = "nova-cpt"
CLUSTER_ARN = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:cluster/abc123def456"
GROUP = "nova-p5"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/nova-rig-execution"
LAUNCHED = datetime(2026, 1, 1, tzinfo=UTC)


# --------------------------------------------------------------------------- a stubbed SageMaker


def _rig(name: str, target: int, current: int) -> dict[str, Any]:
    return {
        "InstanceGroupName": name,
        "InstanceType": "ml.p5.48xlarge",
        "ExecutionRole": ROLE,
        "CurrentCount": current,
        "TargetCount": target,
        "Status": "InService",
        "ThreadsPerCore": 1,
        "InstanceStorageConfigs": [{"EbsVolumeConfig": {"VolumeSizeInGB": 500}}],
        "OnStartDeepHealthChecks": ["InstanceStress", "InstanceConnectivity"],
        "EnvironmentConfig": {
            "FSxLustreConfig": {"SizeInGiB": 1200, "PerUnitStorageThroughput": 250},
            "S3OutputPath": "s3://service-managed/output",
        },
    }


STANDARD_GROUP = {
    "InstanceGroupName": "system",
    "InstanceType": "ml.m5.xlarge",
    "CurrentCount": 1,
    "TargetCount": 1,
    "MinCount": 1,
    "Status": "InService",
    "ExecutionRole": ROLE,
    "ThreadsPerCore": 1,
    "LifeCycleConfig": {"SourceS3Uri": "s3://sagemaker-lifecycle/base/", "OnCreate": "on_create.sh"},
    "KubernetesConfig": {"CurrentLabels": {"team": "ml"}, "DesiredLabels": {"team": "ml"}},
    "CurrentImageId": "ami-0123456789abcdef0",
    "DesiredImageId": "ami-0123456789abcdef0",
}


def described(
    status: str = "InService", target: int = 0, current: int | None = None, failure: str = ""
) -> dict[str, Any]:
    """A DescribeCluster answer: our RIG, another RIG and a standard group (all must be passed back)."""
    answer = {
        "ClusterArn": CLUSTER_ARN,
        "ClusterName": CLUSTER,
        "ClusterStatus": status,
        "InstanceGroups": [STANDARD_GROUP],
        "RestrictedInstanceGroups": [
            _rig(GROUP, target, target if current is None else current),
            _rig("other-rig", 2, 2),
        ],
        "NodeRecovery": "Automatic",
    }
    if failure:
        answer["FailureMessage"] = failure
    return answer


def update_request(count: int) -> dict[str, Any]:
    """The UpdateCluster request HyperPodCapacity must send for `count` instances in GROUP."""

    def spec(name: str, instances: int) -> dict[str, Any]:
        return {
            "InstanceGroupName": name,
            "InstanceType": "ml.p5.48xlarge",
            "ExecutionRole": ROLE,
            "InstanceCount": instances,
            "ThreadsPerCore": 1,
            "InstanceStorageConfigs": [{"EbsVolumeConfig": {"VolumeSizeInGB": 500}}],
            "OnStartDeepHealthChecks": ["InstanceStress", "InstanceConnectivity"],
            "EnvironmentConfig": {"FSxLustreConfig": {"SizeInGiB": 1200, "PerUnitStorageThroughput": 250}},
        }

    return {
        "ClusterName": CLUSTER,
        "RestrictedInstanceGroups": [spec(GROUP, count), spec("other-rig", 2)],
        "InstanceGroups": [
            {
                "InstanceGroupName": "system",
                "InstanceType": "ml.m5.xlarge",
                "InstanceCount": 1,
                "MinInstanceCount": 1,
                "ExecutionRole": ROLE,
                "ThreadsPerCore": 1,
                "LifeCycleConfig": {"SourceS3Uri": "s3://sagemaker-lifecycle/base/", "OnCreate": "on_create.sh"},
                "KubernetesConfig": {"Labels": {"team": "ml"}},
                "ImageId": "ami-0123456789abcdef0",
            }
        ],
    }


def nodes(statuses: list[str], token: str | None = None, group: str = GROUP) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "ClusterNodeSummaries": [
            {
                "InstanceGroupName": group,
                "InstanceId": f"i-{group}-{i:04d}",
                "InstanceType": "ml.p5.48xlarge",
                "LaunchTime": LAUNCHED,
                "InstanceStatus": {"Status": status},
            }
            for i, status in enumerate(statuses)
        ]
    }
    if token:
        answer["NextToken"] = token
    return answer


class StubbedSageMaker:
    """A real SageMaker client whose answers are queued; every call must be one that was expected."""

    def __init__(self) -> None:
        self.client = boto3.client(
            "sagemaker", region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
        )
        self.stubber = Stubber(self.client)

    def describe(self, answer: dict[str, Any]) -> None:
        self.stubber.add_response("describe_cluster", answer, {"ClusterName": CLUSTER})

    def nodes(self, *pages: dict[str, Any]) -> None:
        token = None
        for page in pages:
            expected: dict[str, Any] = {"ClusterName": CLUSTER, "InstanceGroupNameContains": GROUP}
            if token:
                expected["NextToken"] = token
            self.stubber.add_response("list_cluster_nodes", page, expected)
            token = page.get("NextToken")

    def update(self, count: int) -> None:
        self.stubber.add_response("update_cluster", {"ClusterArn": CLUSTER_ARN}, update_request(count))

    def error(self, operation: str, code: str, status: int = 400, message: str = "") -> None:
        self.stubber.add_client_error(operation, code, message or code, http_status_code=status)

    def capacity(self, *, always_on: bool = False) -> HyperPodCapacity:
        return HyperPodCapacity(self.client, CLUSTER, GROUP, 16 if always_on else 0, always_on=always_on)


@pytest.fixture
def sagemaker() -> Iterator[StubbedSageMaker]:
    stubbed = StubbedSageMaker()
    with stubbed.stubber:
        yield stubbed
        stubbed.stubber.assert_no_pending_responses()


# --------------------------------------------------------------------------- HyperPodCapacity


def test_prepare_asks_for_the_replicas_passing_back_every_instance_group(sagemaker: StubbedSageMaker) -> None:
    sagemaker.describe(described(target=0))
    sagemaker.update(16)
    assert sagemaker.capacity().prepare_capacity(16) is False


@pytest.mark.parametrize("status", ["Updating", "Creating", "SystemUpdating", "RollingBack"])
def test_prepare_asks_nothing_new_while_the_cluster_is_updating(sagemaker: StubbedSageMaker, status: str) -> None:
    sagemaker.describe(described(status=status, target=16, current=3))
    assert sagemaker.capacity().prepare_capacity(16) is False  # no UpdateCluster: the Stubber would refuse it


def test_prepare_is_ready_when_every_instance_runs(sagemaker: StubbedSageMaker) -> None:
    sagemaker.describe(described(target=16))
    sagemaker.nodes(nodes(["Running"] * 10, token="page-2"), nodes(["Running"] * 6))
    assert sagemaker.capacity().prepare_capacity(16) is True


def test_prepare_waits_for_deep_health_checks_and_ignores_other_groups(sagemaker: StubbedSageMaker) -> None:
    sagemaker.describe(described(target=16))
    other = nodes(["Running"] * 8, group=f"{GROUP}-old")["ClusterNodeSummaries"]
    page = nodes(["Running"] * 12 + ["DeepHealthCheckInProgress"] * 4)
    page["ClusterNodeSummaries"] += other
    sagemaker.nodes(page)
    assert sagemaker.capacity().prepare_capacity(16) is False


def test_insufficient_capacity_is_retried_then_fails_naming_the_remedies(sagemaker: StubbedSageMaker) -> None:
    failure = "InsufficientInstanceCapacity: not enough ml.p5.48xlarge capacity in us-east-1a"
    backend = HyperPodBackend(capacity=sagemaker.capacity, jobs=_no_jobs)
    wait = CapacityWait(interval_seconds=300, max_seconds=3600, zone="us-east-1a", training_plan=False)
    # PrepareCapacity asks; HyperPod rolls the update back for lack of capacity (target back to 0).
    sagemaker.describe(described(target=0))
    sagemaker.update(16)
    state = prepare_capacity_step(backend, recipe_summary(), wait)  # Nova Lite, 16 replicas
    assert state.ready is False and state.interval_seconds == 300
    # CheckCapacity within the wait: the rolled-back cluster is asked again (a retry), not failed yet.
    sagemaker.describe(described(target=0, failure=failure))
    sagemaker.update(16)
    state = check_capacity_step(backend, state, wait)
    assert state.ready is False
    # After max wait: CapacityUnavailable with the cluster's last failure and what to do about it.
    late = state.model_copy(update={"requested_at": (datetime.now(UTC) - timedelta(hours=2)).isoformat()})
    sagemaker.describe(described(status="RollingBack", target=0, failure=failure))
    sagemaker.describe(described(status="RollingBack", target=0, failure=failure))
    sagemaker.nodes(nodes([]))
    with pytest.raises(CapacityUnavailable) as raised:
        check_capacity_step(backend, late, wait)
    message = str(raised.value)
    assert "16 x ml.p5.48xlarge were not in service after 60 minutes" in message
    assert "0 of 0 instances in service, cluster RollingBack, last failure: InsufficientInstanceCapacity" in message
    assert "nova-cpt:rig_availability_zone, now us-east-1a" in message
    assert "training plan (nova-cpt:training_plan_arn)" in message


def test_a_group_sized_by_another_run_is_not_taken_over(sagemaker: StubbedSageMaker) -> None:
    sagemaker.describe(described(target=8))
    with pytest.raises(CapacityUnavailable, match="sized for 8 instances, not its resting 0: another run is using it"):
        sagemaker.capacity().prepare_capacity(16)


def test_a_failed_cluster_is_capacity_unavailable(sagemaker: StubbedSageMaker) -> None:
    sagemaker.describe(described(status="Failed", failure="EKS cluster unreachable"))
    with pytest.raises(CapacityUnavailable, match="is Failed: EKS cluster unreachable"):
        sagemaker.capacity().prepare_capacity(16)


def test_a_quota_too_low_is_capacity_unavailable(sagemaker: StubbedSageMaker) -> None:
    sagemaker.describe(described(target=0))
    sagemaker.error("update_cluster", "ResourceLimitExceeded", message="account limit of 8 instances")
    with pytest.raises(CapacityUnavailable, match=r"exceed a service quota .*account limit of 8.*Service Quotas"):
        sagemaker.capacity().prepare_capacity(16)


def test_a_concurrent_update_is_cluster_busy(sagemaker: StubbedSageMaker) -> None:
    sagemaker.describe(described(target=0))
    sagemaker.error("update_cluster", "ConflictException", message="cluster is being updated")
    with pytest.raises(ClusterBusy, match="being updated"):
        sagemaker.capacity().prepare_capacity(16)


def test_throttling_is_transient_and_other_errors_name_the_call(sagemaker: StubbedSageMaker) -> None:
    sagemaker.error("describe_cluster", "ThrottlingException")
    with pytest.raises(
        TransientError,
        match=r"describe_cluster on nova-cpt: temporary SageMaker error \(ThrottlingException\), retrying",
    ):
        sagemaker.capacity().prepare_capacity(16)
    sagemaker.error("describe_cluster", "AccessDeniedException", message="not authorized")
    with pytest.raises(PipelineError, match="AccessDeniedException: not authorized"):
        sagemaker.capacity().release_capacity()


def test_a_cluster_without_the_group_names_the_groups_it_has(sagemaker: StubbedSageMaker) -> None:
    sagemaker.describe(described())
    capacity = HyperPodCapacity(sagemaker.client, CLUSTER, "p5-missing", 0)
    with pytest.raises(PipelineError, match=r"no restricted instance group 'p5-missing' \(it has \['nova-p5', "):
        capacity.prepare_capacity(8)


def test_release_returns_to_the_resting_count(sagemaker: StubbedSageMaker) -> None:
    sagemaker.describe(described(target=16))
    sagemaker.update(0)
    assert sagemaker.capacity().release_capacity() is False  # asked for: not there yet
    sagemaker.describe(described(status="Updating", target=0, current=16))
    assert sagemaker.capacity().release_capacity() is False  # scaling down: asks nothing new
    sagemaker.describe(described(target=0))
    assert sagemaker.capacity().release_capacity() is True


def test_release_after_a_failed_run_or_scale_up_still_scales_down(sagemaker: StubbedSageMaker) -> None:
    sagemaker.describe(described(target=16, current=5, failure="InsufficientInstanceCapacity"))
    sagemaker.update(0)
    sagemaker.capacity().release_capacity()


def test_release_at_rest_does_nothing(sagemaker: StubbedSageMaker) -> None:
    sagemaker.describe(described(target=0))
    assert sagemaker.capacity().release_capacity() is True


def test_release_while_scaling_is_cluster_busy(sagemaker: StubbedSageMaker) -> None:
    sagemaker.describe(described(status="Updating", target=16, current=4))
    with pytest.raises(ClusterBusy, match="is Updating: it is scaled down when that ends"):
        sagemaker.capacity().release_capacity()


def test_always_on_never_resizes(sagemaker: StubbedSageMaker) -> None:
    capacity = sagemaker.capacity(always_on=True)
    sagemaker.describe(described(target=16))
    sagemaker.nodes(nodes(["Running"] * 16))
    assert capacity.prepare_capacity(8) is True
    assert capacity.release_capacity() is True  # no call at all
    sagemaker.describe(described(target=16))
    with pytest.raises(CapacityUnavailable, match="always-on with 16 instances; the recipe asks for 32"):
        capacity.prepare_capacity(32)


def test_always_on_with_exactly_the_replicas_trains(sagemaker: StubbedSageMaker) -> None:
    """The boundary: 16 always-on instances are enough for 16 replicas (ready once all 16 run), 17 are not."""
    capacity = sagemaker.capacity(always_on=True)
    sagemaker.describe(described(target=16))
    sagemaker.nodes(nodes(["Running"] * 15 + ["Pending"]))
    assert capacity.prepare_capacity(16) is False  # enough asked for, one not yet running
    sagemaker.describe(described(target=16))
    sagemaker.nodes(nodes(["Running"] * 16))
    assert capacity.prepare_capacity(16) is True
    sagemaker.describe(described(target=16))
    with pytest.raises(CapacityUnavailable, match="always-on with 16 instances; the recipe asks for 17"):
        capacity.prepare_capacity(17)


def test_capacity_status_summarises_the_group(sagemaker: StubbedSageMaker) -> None:
    sagemaker.describe(described(status="Updating", target=16, current=9, failure=""))
    sagemaker.nodes(nodes(["Running"] * 9 + ["Pending"] * 7))
    status = sagemaker.capacity().capacity_status()
    assert status == CapacityStatus(16, 9, "Updating", "")
    assert str(status) == "9 of 16 instances in service, cluster Updating"


# --------------------------------------------------------------------------- against moto's SageMaker


@mock_aws
def test_with_moto_an_unknown_cluster_is_a_pipeline_error() -> None:
    capacity = HyperPodCapacity(boto3.client("sagemaker", region_name=REGION), "absent", GROUP, 0)
    with pytest.raises(PipelineError, match="describe_cluster on absent: ValidationException: Could not find cluster"):
        capacity.prepare_capacity(8)


@mock_aws
def test_with_moto_a_cluster_without_a_restricted_group_is_refused() -> None:
    client = boto3.client("sagemaker", region_name=REGION)
    client.create_cluster(
        ClusterName=CLUSTER,
        InstanceGroups=[
            {
                "InstanceGroupName": "system",
                "InstanceType": "ml.p5.48xlarge",
                "InstanceCount": 2,
                "ExecutionRole": ROLE,
                "ThreadsPerCore": 1,
                "LifeCycleConfig": {"SourceS3Uri": "s3://sagemaker-lifecycle/", "OnCreate": "on_create.sh"},
            }
        ],
        VpcConfig={"SecurityGroupIds": ["sg-0123456789abcdef0"], "Subnets": ["subnet-0123456789abcdef0"]},
    )
    capacity = HyperPodCapacity(client, CLUSTER, GROUP, 0)
    with pytest.raises(PipelineError, match=r"no restricted instance group 'nova-p5' \(it has none\)"):
        capacity.prepare_capacity(8)
    with pytest.raises(PipelineError, match="no restricted instance group"):
        capacity.release_capacity()


# --------------------------------------------------------------------------- composite backend and runtime


def _no_jobs() -> Any:
    raise AssertionError("a capacity step must not make the job backend")


def test_the_hyperpod_backend_makes_each_half_on_first_use() -> None:
    """Job calls reach the job half with their arguments, made once; the capacity half is never made for them."""
    made: list[str] = []

    class Jobs:
        def __init__(self) -> None:
            self.calls: list[tuple[Any, ...]] = []

        def submit(self, job_name: str, execution: str, recipe: Any) -> None:
            self.calls.append(("submit", job_name, execution, recipe))

        def status(self, job_name: str, attempt: int) -> JobStatus:
            self.calls.append(("status", job_name, attempt))
            return JobStatus(JobState.RUNNING, reason=f"{job_name} look {attempt}")

        def cancel(self, job_name: str) -> None:
            self.calls.append(("cancel", job_name))

    def jobs() -> Jobs:
        made.append("jobs")
        return Jobs()

    def no_capacity() -> HyperPodCapacity:
        raise AssertionError("a job step must not make the capacity backend")

    backend = HyperPodBackend(capacity=no_capacity, jobs=jobs)
    assert made == []  # nothing is made before it is used
    recipe = object()
    backend.submit("j-1", "run-a", recipe)  # type: ignore[arg-type]
    assert backend.status("j-1", 3).reason == "j-1 look 3"
    backend.cancel("j-1")
    assert made == ["jobs"]  # once, for all three calls
    assert backend.jobs.calls == [("submit", "j-1", "run-a", recipe), ("status", "j-1", 3), ("cancel", "j-1")]


def test_runtime_builds_the_hyperpod_backend_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "HYPERPOD_CLUSTER_NAME": CLUSTER,
        "INSTANCE_GROUP": GROUP,
        "RESTING_COUNT": "0",
        "CAPACITY_MODE": "always-on",
    }.items():
        monkeypatch.setenv(name, value)
    backend = runtime.cluster()
    assert isinstance(backend, HyperPodBackend)
    capacity = backend.capacity
    assert (capacity.cluster_name, capacity.instance_group, capacity.always_on) == (CLUSTER, GROUP, True)
    monkeypatch.delenv("INSTANCE_GROUP")
    with pytest.raises(ValidationError, match="instance_group"):
        runtime.cluster().capacity_status()  # the capacity half is made, from its settings, on first use
    for name in ("FAKE_JOB_STATES", "CLUSTER_BACKEND"):  # the deployed runtime knows no fake cluster
        assert name.lower() not in {f for m in (ClusterSettings, JobSettings) for f in m.model_fields}


# --------------------------------------------------------------------------- aborted runs


T0 = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)


def _entry(name: str, minute: int) -> QueueEntry:
    return QueueEntry(name, f"arn:aws:states:{REGION}:{ACCOUNT}:execution:sm:{name}", f"2026-11-30T02:{minute:02d}:00Z")


@mock_aws
def test_an_aborted_run_releases_only_what_it_owned() -> None:
    """Aborting a run in line touches nothing of the owner's; aborting the owner cancels its job, then releases."""
    client = boto3.client("dynamodb", region_name=REGION)
    create_table(client)
    table = LeaseTable(client, "lease", "nova-cpt/nova-p5")
    for entry in (_entry("run-a", 0), _entry("run-b", 1)):
        table.join(entry)
    assert table.try_acquire(_entry("run-a", 0), job_name="job-a", now=T0).acquired
    backend, started = ScriptedCluster(["RUNNING"]), []
    backend.submit("job-a", "run-a", object())

    def start(owner: str) -> str:
        started.append(owner)
        return f"release-{owner}"

    waiting = aborted_step(table, backend, start, "run-b", now=T0)
    assert waiting == {"execution": "run-b", "owned": False, "left_queue": True, "cancelled": None}
    unknown = aborted_step(table, backend, start, "never-seen", now=T0)
    assert unknown == {"execution": "never-seen", "owned": False, "left_queue": False, "cancelled": None}
    assert backend.jobs == {"job-a": "run-a"} and backend.releases == 0 and started == []  # the owner's, untouched
    lease = table.lease()
    assert lease is not None and (lease.owner, lease.state) == ("run-a", "held")
    owner = aborted_step(table, backend, start, "run-a", now=T0)
    assert owner == {
        "execution": "run-a",
        "owned": True,
        "left_queue": False,
        "cancelled": "job-a",
        "release": "release-run-a",
    }
    assert backend.cancelled == ["job-a"] and backend.jobs == {}
    assert backend.releases == 0  # the group itself is scaled down by the release workflow
    assert started == ["run-a"]
    lease = table.lease()
    assert lease is not None and lease.state == "releasing"


@mock_aws
def test_the_aborted_handler_reads_the_event_bridge_event(monkeypatch: pytest.MonkeyPatch) -> None:
    from lambdas import capacity
    from novacpt_dev.emulator.invoke import FakeContext, clear_handler_caches

    create_table(boto3.client("dynamodb", region_name=REGION))
    monkeypatch.setattr(runtime, "cluster_factory", lambda: ScriptedCluster(["RUNNING"]))
    for name, value in {
        "LEASE_TABLE": "lease",
        "LEASE_GROUP": "nova-cpt/nova-p5",
        "RELEASE_STATE_MACHINE_ARN": f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:release",
        "HYPERPOD_CLUSTER_NAME": "nova-cpt",
        "INSTANCE_GROUP": "nova-p5",
        "EKS_CLUSTER_NAME": "nova-cpt-eks",
        "HYPERPOD_CLUSTER_ARN": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:cluster/abc123",
        "JOB_NAMESPACE": "kubeflow",
        "ACCOUNT_ID": ACCOUNT,
        "REGION": REGION,
        "DATA_BUCKET": "data",
        "OUTPUT_BUCKET": "output",
        "ARCHIVE_BUCKET": "archive",
    }.items():
        monkeypatch.setenv(name, value)
    clear_handler_caches()
    event = {
        "version": "0",
        "source": "aws.states",
        "detail-type": "Step Functions Execution Status Change",
        "detail": {
            "executionArn": f"arn:aws:states:{REGION}:{ACCOUNT}:execution:sm:run-c",
            "stateMachineArn": f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:sm",
            "name": "run-c",
            "status": "ABORTED",
        },
    }
    context = FakeContext("CleanUpAborted", 256, f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:CleanUpAborted")
    expected = {"execution": "run-c", "owned": False, "left_queue": False, "cancelled": None, "release": None}
    assert capacity.aborted(event, context) == expected
    clear_handler_caches()


# --------------------------------------------------------------------------- before any spend


def test_a_recipe_over_the_cluster_maximum_or_for_another_model_fails_validation() -> None:
    recipe = lite_recipe()  # Nova Lite, 16 replicas
    assert validate_recipe_bytes(recipe, require_s3_paths=False, max_replicas=16).model is not None
    report = validate_recipe_bytes(recipe, require_s3_paths=False, max_replicas=8)
    assert [(i.field, i.message) for i in report.errors] == [
        (
            "run.replicas",
            "16 is not allowed: the cluster allows at most 8 instances (nova-cpt:max_replicas in cdk.json); "
            "use 8 or fewer, or set nova-cpt:max_replicas to 16 and redeploy",
        )
    ]
    report = validate_recipe_bytes(recipe, require_s3_paths=False, model_type="amazon.nova-pro-v1:0:300k")
    assert [(i.field, i.message) for i in report.errors] == [
        (
            "run.model_type",
            "'amazon.nova-lite-v1:0:300k' is not allowed: the cluster is set up for 'amazon.nova-pro-v1:0:300k' "
            "(nova-cpt:model in cdk.json); use that model, or set nova-cpt:model to lite and redeploy",
        )
    ]


# --------------------------------------------------------------------------- the wait loop, executed


class SlowCluster(ScriptedCluster):
    """The scripted fake, but the instances are in service only from the `ready_after`-th look (one per test)."""

    def __init__(self, ready_after: int) -> None:
        super().__init__(["RUNNING", "SUCCEEDED"])
        self.ready_after = ready_after
        self.looks = 0

    def prepare_capacity(self, replicas: int) -> bool:
        self.looks += 1
        return self.looks >= self.ready_after

    def capacity_status(self) -> CapacityStatus:
        return CapacityStatus(16, min(self.looks, 16), "Updating")


@pytest.mark.slow
def test_the_run_waits_for_capacity_then_trains(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lambdas import capacity

    pipeline: Pipeline = request.getfixturevalue("pipeline")

    slow = SlowCluster(ready_after=3)  # every invocation looks at the same cluster
    monkeypatch.setattr(capacity, "cluster", lambda: slow)
    uri = pipeline.drop("trial-w", lite_recipe())
    put_outputs(pipeline, "trial-w", "run-w")
    result = pipeline.local.wait(pipeline.local.start({"recipe_s3_uri": uri}, name="run-w"))
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    start = result.states.index("PrepareCapacity")
    assert result.states[start : start + 8] == [
        "PrepareCapacity",
        "CapacityReady",
        "WaitForCapacity",
        "CheckCapacity",
        "CapacityReady",
        "WaitForCapacity",
        "CheckCapacity",
        "CapacityReady",
    ]
    assert result.states[start + 8] == "SubmitJob"


@pytest.mark.slow
def test_capacity_that_never_comes_fails_the_run_and_releases(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lambdas import capacity

    pipeline: Pipeline = request.getfixturevalue("pipeline")

    never = SlowCluster(ready_after=10**6)
    monkeypatch.setattr(capacity, "cluster", lambda: never)
    pipeline.env["MAX_CAPACITY_WAIT_SECONDS"] = "0.01"
    uri = pipeline.drop("trial-x", lite_recipe())
    result = pipeline.local.wait(pipeline.local.start({"recipe_s3_uri": uri}, name="run-x"))
    assert result.status == "FAILED"
    assert result.error == "CapacityUnavailable"
    assert result.cause is not None and "were not in service after" in result.cause
    assert "SubmitJob" not in result.states
    assert len(pipeline.called("FunctionsReleaseCapacity")) == 1  # the clean-up path's ReleaseCapacityOnFailure
    (message,) = pipeline.local.notifications()
    assert "CapacityUnavailable" in message["message"]
