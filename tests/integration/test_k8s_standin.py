"""The job backend driven through the real client against the stand-in API: submit, follow, cancel, archive."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from botocore.exceptions import ClientError
from moto import mock_aws
from typer.testing import CliRunner

from novacpt.adapters.k8s import CONFIGMAPS, PYTORCHJOBS, EksTokenSource, KubernetesClient, KubernetesError
from novacpt.adapters.kubernetes_jobs import KubernetesJobs, cluster_log_group, kubernetes_jobs
from novacpt.contract import RecipeSummary
from novacpt.jobs.manifests import CONFIG_KEY, EXECUTION_LABEL, config_map_name, label_value
from novacpt.jobs.status import job_state, pod_problems, restarts, stuck_pods
from novacpt.kernel.errors import PipelineError, TransientError
from novacpt.kernel.ports import JobState
from novacpt.kernel.s3access import S3Access
from novacpt.kernel.settings import Deployment, JobSettings
from novacpt.naming import job_name
from novacpt.recipe import NovaCptRecipe, validate_recipe_file
from novacpt.steps.archive import archive_step
from novacpt.steps.job import poll_step, submit_step
from novacpt_cli import app
from novacpt_dev.k8s_standin import REFERENCE_CRD, FinishedJob, JobScript, KubernetesStandIn, PodTrouble
from tests.conftest import ROOT
from tests.examples import recipe_summary, run_state
from tests.permissions import RbacRule, forbidden_requests, job_rbac

REGION = "us-east-1"
ACCOUNT = "123456789012"
NS = "kubeflow"
LOG_GROUP = "/aws/sagemaker/Clusters/hp-cluster/abc123def456"
RECIPE_URI = "s3://archive-bkt/runs/run-a/recipe.yaml"


def lite() -> NovaCptRecipe:
    paths = {"run.data_s3_path": "s3://data-bkt/jobs/a/train.jsonl", "run.output_s3_path": "s3://out-bkt/a"}
    report = validate_recipe_file(ROOT / "recipes" / "nova_lite_cpt.yaml", overrides=paths)
    assert report.model is not None
    return report.model


def name_of(execution: str = "run-a") -> str:
    return job_name("nova-lite-cpt", execution)


@dataclass
class Cluster:
    standin: KubernetesStandIn
    jobs: KubernetesJobs
    finished: list[FinishedJob]

    def job(self, name: str) -> dict[str, Any] | None:
        return self.standin.objects("pytorchjobs", NS).get(name)


@pytest.fixture(scope="module")
def rbac(assembly: Path) -> list[RbacRule]:
    """The RBAC the synthesised cluster stack installs for the pipeline's functions."""
    return job_rbac(json.loads((assembly / "NovaCptCluster.template.json").read_text()))


@pytest.fixture
def cluster(rbac: list[RbacRule]) -> Iterator[Cluster]:
    """The job backend against the stand-in; afterwards, RBAC must allow every request it received."""
    session = boto3.Session(aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret", region_name=REGION)
    finished: list[FinishedJob] = []
    crd = REFERENCE_CRD if REFERENCE_CRD.is_file() else None  # schema checks when the reference is there
    with KubernetesStandIn(on_succeeded=finished.append, crd=crd) as standin:
        token = EksTokenSource(session, "hp-eks", REGION)
        jobs = KubernetesJobs(
            lambda: KubernetesClient(standin.url, token, allow_http=True, retries=1),
            region=REGION,
            account=ACCOUNT,
            log_group=LOG_GROUP,
        )
        yield Cluster(standin, jobs, finished)
    problems = forbidden_requests(rbac, standin.requests)
    if problems:
        pytest.fail("requests the synthesised RBAC does not allow:\n  " + "\n  ".join(problems), pytrace=False)


def test_submit_creates_configmap_then_job_and_status_follows_the_conditions(cluster: Cluster) -> None:
    name = name_of()
    cluster.jobs.submit(name, "run-a", lite())
    assert [r for r in cluster.standin.requests if r[0] == "POST"] == [
        ("POST", f"/api/v1/namespaces/{NS}/configmaps"),
        ("POST", f"/apis/kubeflow.org/v1/namespaces/{NS}/pytorchjobs"),
    ]
    job = cluster.job(name)
    assert job is not None and job["metadata"]["labels"][EXECUTION_LABEL] == "run-a"
    assert len(cluster.standin.objects("pods", NS)) == 16
    states = [cluster.jobs.status(name, attempt) for attempt in range(4)]
    assert [s.state for s in states] == [JobState.RUNNING, JobState.RUNNING, JobState.SUCCEEDED, JobState.SUCCEEDED]
    assert [c["type"] for c in (cluster.job(name) or {})["status"]["conditions"]] == ["Created", "Running", "Succeeded"]
    (done,) = cluster.finished  # the hook ran once, with the recipe as run
    assert done.name == name and done.namespace == NS
    assert done.recipe is not None and done.recipe["run"]["name"] == name
    assert done.recipe["run"]["output_s3_path"] == "s3://out-bkt/a"


def test_render_job_prints_what_the_job_backend_submits(cluster: Cluster) -> None:
    """`cpt render-job` shows a user exactly the objects the pipeline creates on the cluster."""
    paths = ["--set", "run.data_s3_path=s3://data-bkt/jobs/a/train.jsonl", "--set", "run.output_s3_path=s3://out-bkt/a"]
    recipe = str(ROOT / "recipes" / "nova_lite_cpt.yaml")
    result = CliRunner().invoke(
        app, ["render-job", recipe, "--region", REGION, "--account", ACCOUNT, *paths, "--execution", "run-a"]
    )
    assert result.exit_code == 0, result.output
    printed_map, printed_job = yaml.safe_load_all(result.stdout)
    name = name_of()
    cluster.jobs.submit(name, "run-a", lite())
    submitted_job = cluster.job(name)
    submitted_map = cluster.standin.objects("configmaps", NS)[config_map_name(name)]
    assert submitted_job is not None
    assert printed_job["metadata"]["name"] == name
    assert printed_job["spec"] == submitted_job["spec"]
    assert printed_job["metadata"]["labels"] == submitted_job["metadata"]["labels"]
    assert printed_map["data"] == submitted_map["data"]


def test_submit_again_for_the_same_execution_is_success(cluster: Cluster) -> None:
    name = name_of()
    cluster.jobs.submit(name, "run-a", lite())
    cluster.jobs.submit(name, "run-a", lite())  # a retried SubmitJob
    assert list(cluster.standin.objects("pytorchjobs", NS)) == [name]
    assert len(cluster.standin.objects("configmaps", NS)) == 1


def test_the_same_name_for_another_execution_is_an_error(cluster: Cluster) -> None:
    name = name_of()
    cluster.jobs.submit(name, "run-a", lite())
    with pytest.raises(PipelineError, match="already exists for execution run-a, not run-b") as error:
        cluster.jobs.submit(name, "run-b", lite())
    assert not isinstance(error.value, TransientError)
    assert (cluster.job(name) or {})["metadata"]["labels"][EXECUTION_LABEL] == label_value("run-a")


def test_failure_names_the_condition_the_pods_and_the_log_group(cluster: Cluster) -> None:
    cluster.standin.default_script = JobScript.failing("NCCL timeout on worker 0", reason="OOMKilled", exit_code=137)
    name = name_of()
    cluster.jobs.submit(name, "run-a", lite())
    statuses = [cluster.jobs.status(name, attempt) for attempt in range(3)]
    assert [s.state for s in statuses] == [JobState.RUNNING, JobState.RUNNING, JobState.FAILED]
    reason = statuses[-1].reason
    assert reason.startswith("PyTorchJobFailed: NCCL timeout on worker 0; ")
    assert f"pod {name}-worker-0 container pytorch: OOMKilled (exit code 137)" in reason
    assert reason.endswith(f"logs: CloudWatch log group {LOG_GROUP}")
    assert cluster.finished == []
    assert ("GET", f"/api/v1/namespaces/{NS}/pods?labelSelector=training.kubeflow.org%2Fjob-name%3D{name}") in (
        cluster.standin.requests
    )


def test_a_vanished_job_is_a_failure_with_the_log_group(cluster: Cluster) -> None:
    status = cluster.jobs.status("never-submitted", 0)
    assert status.state is JobState.FAILED
    assert "no longer exists" in status.reason and LOG_GROUP in status.reason


def test_cancel_deletes_job_pods_and_configmap_and_a_missing_object_is_fine(cluster: Cluster) -> None:
    name = name_of()
    cluster.jobs.submit(name, "run-a", lite())
    cluster.jobs.cancel(name)
    for plural in ("pytorchjobs", "configmaps", "pods"):
        assert cluster.standin.objects(plural, NS) == {}
    cluster.jobs.cancel(name)  # again: nothing left, still success
    deletes = [path for method, path in cluster.standin.requests if method == "DELETE"]
    assert deletes == [
        f"/apis/kubeflow.org/v1/namespaces/{NS}/pytorchjobs/{name}?propagationPolicy=Background",
        f"/api/v1/namespaces/{NS}/configmaps/training-config-{name}?propagationPolicy=Background",
    ]


def test_cancel_leaves_objects_this_pipeline_did_not_create(cluster: Cluster) -> None:
    foreign = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "training-config-theirs"}}
    cluster.jobs.api.create(CONFIGMAPS, NS, foreign)
    with pytest.raises(PipelineError, match="not created by this pipeline"):
        cluster.jobs.cancel("theirs")
    assert "training-config-theirs" in cluster.standin.objects("configmaps", NS)


def test_api_errors_become_pipeline_errors(cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cluster.standin, "handle", lambda *_: (503, {"message": "etcd is busy"}))
    with pytest.raises(TransientError, match="etcd is busy"):
        cluster.jobs.submit("job-1", "run-a", lite())
    monkeypatch.setattr(cluster.standin, "handle", lambda *_: (403, {"message": "forbidden"}))
    with pytest.raises(PipelineError, match="EKS access entry") as denied:
        cluster.jobs.status("job-1", 0)
    assert not isinstance(denied.value, TransientError)


def test_the_job_succeeds_only_once_the_success_hook_has_run(cluster: Cluster) -> None:
    calls: list[str] = []

    def broken(job: FinishedJob) -> None:
        calls.append(job.name)
        raise RuntimeError("trainer simulation failed")

    cluster.standin.on_succeeded = broken
    name = name_of()
    cluster.jobs.submit(name, "run-a", lite())
    cluster.jobs.status(name, 0)
    cluster.jobs.status(name, 1)
    with pytest.raises(TransientError, match="trainer simulation failed"):
        cluster.jobs.status(name, 2)
    assert calls == [name, name]  # the client retried the GET once
    assert [c["type"] for c in (cluster.job(name) or {})["status"]["conditions"]] == ["Created", "Running"]
    cluster.standin.on_succeeded = cluster.finished.append
    assert cluster.jobs.status(name, 3).state is JobState.SUCCEEDED
    assert [f.name for f in cluster.finished] == [name]


# --- the stand-in refuses what a real API server refuses --------------------------------------------


def submitted_job(cluster: Cluster) -> dict[str, Any]:
    """The PyTorchJob the backend submits, read back, without the fields the server adds."""
    name = name_of()
    cluster.jobs.submit(name, "run-a", lite())
    job = copy.deepcopy(cluster.job(name) or {})
    job["metadata"] = {k: v for k, v in job["metadata"].items() if k not in ("uid", "creationTimestamp")}
    job.pop("status", None)
    cluster.jobs.cancel(name)
    return job


def refusal(cluster: Cluster, body: dict[str, Any], plural: Any = PYTORCHJOBS) -> KubernetesError:
    with pytest.raises(KubernetesError) as error:
        cluster.jobs.api.create(plural, NS, body)
    return error.value


def test_a_schema_invalid_job_is_refused_with_the_field(cluster: Cluster) -> None:
    if not REFERENCE_CRD.is_file():
        pytest.skip(f"PyTorchJob CRD not found at {REFERENCE_CRD} (../shared/reference is absent)")
    job = submitted_job(cluster)
    job["spec"]["pytorchReplicaSpecs"]["Worker"]["replicas"] = "15"
    job["spec"]["pytorchReplicaSpecs"]["Master"]["template"]["spec"]["toleration"] = []
    error = refusal(cluster, job)
    assert (error.status, error.reason) == (422, "Invalid")
    assert "spec.pytorchReplicaSpecs.Worker.replicas: '15' is not of type 'integer'" in str(error)
    assert "'toleration' was unexpected" in str(error)
    assert cluster.standin.objects("pytorchjobs", NS) == {}


def test_a_mount_naming_no_volume_is_refused(cluster: Cluster) -> None:
    job = submitted_job(cluster)
    init = job["spec"]["pytorchReplicaSpecs"]["Worker"]["template"]["spec"]["initContainers"][0]
    init["volumeMounts"].append({"name": "k8s-ca-cert", "mountPath": "/etc/kubernetes/pki/ca.crt", "readOnly": True})
    error = refusal(cluster, job)
    assert error.status == 422
    assert (
        "spec.pytorchReplicaSpecs.Worker.template.spec.initContainers[0].volumeMounts[3].name: Not found: "
        "'k8s-ca-cert'" in str(error)
    )


@pytest.mark.parametrize(
    ("plural", "name"), [(PYTORCHJOBS, "1-starts-with-digit"), (PYTORCHJOBS, "Upper"), (CONFIGMAPS, "bad_name")]
)
def test_invalid_names_are_refused(cluster: Cluster, plural: Any, name: str) -> None:
    body = submitted_job(cluster) if plural is PYTORCHJOBS else {"apiVersion": "v1", "kind": "ConfigMap"}
    body["metadata"] = {**body.get("metadata", {}), "name": name}
    error = refusal(cluster, body, plural)
    assert error.status == 422 and f"metadata.name: Invalid value: '{name}'" in str(error)


def test_invalid_labels_and_duplicate_creates_are_refused(cluster: Cluster) -> None:
    labelled = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": {"a": "x" * 64}}}
    assert refusal(cluster, labelled, CONFIGMAPS).status == 422
    plain = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}
    cluster.jobs.api.create(CONFIGMAPS, NS, plain)
    duplicate = refusal(cluster, plain, CONFIGMAPS)
    assert (duplicate.status, duplicate.reason) == (409, "AlreadyExists")


def pods(cluster: Cluster, name: str) -> dict[str, dict[str, Any]]:
    return {n: p for n, p in cluster.standin.objects("pods", NS).items() if n.startswith(name)}


@pytest.mark.parametrize(
    ("trouble", "container", "reason"),
    [
        (PodTrouble("ImagePullBackOff"), "pytorch", {"ImagePullBackOff", "ErrImagePull"}),
        (PodTrouble("CrashLoopBackOff", container="init-container"), "init-container", {"CrashLoopBackOff"}),
        (PodTrouble("CrashLoopBackOff"), "pytorch", {"CrashLoopBackOff"}),
    ],
)
def test_pods_can_be_scripted_into_trouble_and_age(
    cluster: Cluster, trouble: PodTrouble, container: str, reason: set[str]
) -> None:
    cluster.standin.default_script = JobScript.stuck(trouble, minutes_per_step=10)
    name = name_of()
    cluster.jobs.submit(name, "run-a", lite())
    seen: set[str] = set()
    for attempt in range(3):
        assert cluster.jobs.status(name, attempt).state is JobState.RUNNING  # stuck jobs never fail by themselves
        for pod in pods(cluster, name).values():
            key = "initContainerStatuses" if container == "init-container" else "containerStatuses"
            (status,) = [s for s in pod["status"][key] if s["name"] == container]
            seen.add(status["state"]["waiting"]["reason"])
    assert seen == reason
    pod = pods(cluster, name)[f"{name}-master-0"]
    created = datetime.fromisoformat(pod["metadata"]["creationTimestamp"])
    assert datetime.now(UTC) - created >= timedelta(minutes=29)  # three looks, ten minutes each
    if trouble.kind == "CrashLoopBackOff":
        key = "initContainerStatuses" if container == "init-container" else "containerStatuses"
        assert pod["status"][key][0]["restartCount"] == 3


def test_unschedulable_pods_stay_pending_with_the_scheduler_message(cluster: Cluster) -> None:
    cluster.standin.default_script = JobScript.stuck(PodTrouble("Unschedulable", pods="worker-3"))
    name = name_of()
    cluster.jobs.submit(name, "run-a", lite())
    cluster.jobs.status(name, 0)
    stuck = pods(cluster, name)[f"{name}-worker-3"]["status"]
    assert stuck["phase"] == "Pending"
    assert stuck["conditions"][0]["reason"] == "Unschedulable"
    assert pods(cluster, name)[f"{name}-worker-2"]["status"]["phase"] == "Pending"  # Created: not yet running
    with pytest.raises(ValueError, match="not one of"):
        PodTrouble("Sleepy")


def test_the_cluster_is_reached_only_when_needed() -> None:
    calls: list[str] = []

    def throttled() -> KubernetesClient:
        calls.append("connect")
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow"}}, "DescribeCluster")

    def creating() -> KubernetesClient:
        raise ValueError("EKS cluster x has no API endpoint or CA yet")

    def backend(connect: Any) -> KubernetesJobs:
        return KubernetesJobs(connect, region=REGION, account=ACCOUNT, log_group=LOG_GROUP)

    jobs = backend(throttled)
    assert calls == []
    with pytest.raises(TransientError, match="connecting to the cluster"):
        jobs.status("job-1", 0)
    assert calls == ["connect"]
    with pytest.raises(PipelineError, match="no API endpoint") as creating_error:
        backend(creating).cancel("job-1")
    assert not isinstance(creating_error.value, TransientError)


def test_a_job_that_cannot_be_rendered_is_not_submitted(cluster: Cluster) -> None:
    with pytest.raises(PipelineError, match="cannot start job"):
        cluster.jobs.submit("x" * 60, "run-a", lite())  # too long for 16 replicas' service names
    assert cluster.standin.requests == []


# --- status interpretation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("conditions", "state"),
    [
        ([], JobState.RUNNING),
        ([{"type": "Created"}], JobState.RUNNING),
        ([{"type": "Created"}, {"type": "Running"}, {"type": "Restarting"}], JobState.RUNNING),
        ([{"type": "Running"}, {"type": "Suspended"}], JobState.RUNNING),
        ([{"type": "Running"}, {"type": "Succeeded"}], JobState.SUCCEEDED),
        ([{"type": "Succeeded"}, {"type": "Running"}], JobState.RUNNING),  # the last entry decides
        ([{"type": "Running"}, {"type": "Failed", "reason": "R", "message": "M"}], JobState.FAILED),
    ],
)
def test_job_state_is_the_last_condition(conditions: list[dict[str, str]], state: JobState) -> None:
    assert job_state({"status": {"conditions": conditions}})[0] is state
    assert job_state({})[0] is JobState.RUNNING


def test_job_state_reason_and_message() -> None:
    failed = {"status": {"conditions": [{"type": "Failed", "reason": "PyTorchJobFailed", "message": "worker died"}]}}
    assert job_state(failed) == (JobState.FAILED, "PyTorchJobFailed: worker died")


def test_pod_problems_cover_evictions_restarts_and_are_capped() -> None:
    def pod(name: str, **status: Any) -> dict[str, Any]:
        return {"metadata": {"name": name}, "status": status}

    crashed = {
        "name": "pytorch",
        "state": {"running": {}},
        "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}},
    }
    init = {
        "name": "init-container",
        "state": {"terminated": {"exitCode": 2, "reason": "Error", "message": "no fsx\n"}},
    }
    fine = {"name": "pytorch", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}
    pods = [
        pod("b", reason="Evicted", message="node low on memory"),
        pod("a", containerStatuses=[crashed], initContainerStatuses=[init]),
        pod("c", containerStatuses=[fine]),
    ]
    assert pod_problems(pods) == [
        "pod a container init-container: Error (exit code 2): no fsx",
        "pod a container pytorch: Error (exit code 1)",
        "pod b: Evicted: node low on memory",
    ]
    many = [pod(f"p{i}", reason="Evicted", message="m") for i in range(8)]
    assert pod_problems(many)[-1] == "... and 3 more" and len(pod_problems(many)) == 6


# --- wiring for a deployment ----------------------------------------------------------------------


def test_settings_and_factory_for_the_job_functions() -> None:
    env = {
        "ACCOUNT_ID": ACCOUNT,
        "REGION": REGION,
        "DATA_BUCKET": "data-bkt",
        "OUTPUT_BUCKET": "out-bkt",
        "ARCHIVE_BUCKET": "archive-bkt",
        "EKS_CLUSTER_NAME": "hp-eks",
        "HYPERPOD_CLUSTER_NAME": "hp-cluster",
        "HYPERPOD_CLUSTER_ARN": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:cluster/abc123def456",
        "JOB_NAMESPACE": "kubeflow",
        "UNRELATED": "ignored",
    }
    settings = JobSettings.from_environ(env)
    assert settings.environment() == {k: v for k, v in env.items() if k != "UNRELATED"}  # one contract, both ways
    jobs = kubernetes_jobs(settings)
    assert jobs.log_group == LOG_GROUP == cluster_log_group("hp-cluster", env["HYPERPOD_CLUSTER_ARN"])
    assert (jobs.region, jobs.account, jobs.namespace) == (REGION, ACCOUNT, "kubeflow")
    with pytest.raises(ValueError, match="hyperpod_cluster_arn"):
        JobSettings.from_environ({**env, "HYPERPOD_CLUSTER_ARN": "hp-cluster"})


@pytest.fixture
def aws() -> Iterator[Any]:
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        for bucket in ("data-bkt", "out-bkt", "archive-bkt"):
            s3.create_bucket(Bucket=bucket)
        yield s3


def test_the_job_runs_the_recipe_the_run_summary_carries(cluster: Cluster) -> None:
    """The recipe ValidateRecipe proved travels in the run state: SubmitJob reads and validates nothing again."""
    summary = recipe_summary(job_name=name_of(), run_id="run-a")
    wire = RecipeSummary.model_validate_json(summary.model_dump_json())  # as Step Functions hands it on
    assert wire.recipe == summary.recipe
    submit_step(cluster.jobs, wire)
    config = cluster.standin.objects("configmaps", NS)[config_map_name(name_of())]["data"][CONFIG_KEY]
    as_run = yaml.safe_load(config)
    assert as_run["training_config"] == summary.recipe.model_dump(mode="json", exclude_unset=True)["training_config"]
    assert as_run["run"]["replicas"] == 16


def test_steps_run_a_job_end_to_end_and_archive_its_outputs(aws: Any) -> None:
    """SubmitJob, PollJob and ArchiveOutputs with the backend; the hook plays the trainer (as the demo will)."""
    s3 = S3Access(aws, ACCOUNT)
    deployment = Deployment(
        account_id=ACCOUNT, region=REGION, data_bucket="data-bkt", output_bucket="out-bkt", archive_bucket="archive-bkt"
    )
    text = yaml.safe_dump(lite().model_dump(mode="json", exclude_unset=True), sort_keys=False)
    aws.put_object(Bucket="archive-bkt", Key="runs/run-a/recipe.yaml", Body=text.encode())

    def trainer(job: FinishedJob) -> None:
        assert job.recipe is not None
        out = f"{job.recipe['run']['output_s3_path']}/{job.recipe['run']['name']}"
        bucket, prefix = out.removeprefix("s3://").split("/", 1)
        manifest = {"checkpoint_s3_bucket": f"s3://customer-escrow-{ACCOUNT}-x/{job.name}/checkpoint"}
        aws.put_object(Bucket=bucket, Key=f"{prefix}/manifest.json", Body=json.dumps(manifest).encode())
        aws.put_object(Bucket=bucket, Key=f"{prefix}/tensorboard/events.out.tfevents.1", Body=b"scalars")

    session = boto3.Session(region_name=REGION)
    with KubernetesStandIn(on_succeeded=trainer) as standin:
        token = EksTokenSource(session, "hp-eks", REGION)
        jobs = KubernetesJobs(
            lambda: KubernetesClient(standin.url, token, allow_http=True),
            region=REGION,
            account=ACCOUNT,
            log_group=LOG_GROUP,
        )
        recipe = recipe_summary(overrides={"run.output_s3_path": "s3://out-bkt/a"}, job_name=name_of(), run_id="run-a")
        job = submit_step(jobs, recipe)
        for attempt in range(10):
            poll = poll_step(jobs, job, attempt, interval_seconds=0, max_seconds=60)
            if poll.state == "SUCCEEDED":
                break
        assert poll.attempt == 3
    state = run_state(recipe=recipe, job=job, poll=poll)
    result = archive_step(s3, deployment, state, succeeded=True, execution_arn="arn:aws:states:x:run-a")
    assert result.copied == 2
    assert result.checkpoint == f"s3://customer-escrow-{ACCOUNT}-x/{recipe.job_name}/checkpoint"


# --- the watchdog's reading of pods ----------------------------------------------------------------


NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)  # the watchdog's clock: one fixed instant, no race with the machine's


def _pod(name: str, minutes_ago: float, **status: Any) -> dict[str, Any]:
    created = (NOW - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "metadata": {"name": name, "creationTimestamp": created},
        "spec": {"nodeName": "hyperpod-i-0abc"},
        "status": status,
    }


def test_stuck_pods_name_pod_container_and_cause_with_the_time_kubernetes_gives() -> None:
    waiting = {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s"}}
    init = {"name": "init-container", "state": waiting, "restartCount": 7, "lastState": {"terminated": {"exitCode": 2}}}
    pods = [
        _pod("j-master-0", 40, phase="Pending", initContainerStatuses=[init]),
        _pod(
            "j-worker-0",
            45,
            phase="Pending",
            conditions=[{"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": "0/2 nodes"}],
        ),
        _pod(
            "j-worker-1",
            50,
            phase="Running",
            containerStatuses=[{"name": "pytorch", "state": {"running": {}}, "restartCount": 1}],
        ),
        _pod(
            "j-worker-2",
            5,
            phase="Pending",
            containerStatuses=[{"name": "pytorch", "state": {"waiting": {"reason": "ContainerCreating"}}}],
        ),
    ]
    found = {s.pod: s for s in stuck_pods(pods)}
    assert set(found) == {"j-master-0", "j-worker-0", "j-worker-2"}  # worker-1 runs
    master = found["j-master-0"]
    assert (master.container, master.node) == ("init-container", "hyperpod-i-0abc")
    assert master.describe(NOW) == (
        "pod j-master-0 container init-container: CrashLoopBackOff: back-off 5m0s; last exit code 2, 7 restarts "
        "(for 40 min)"
    )
    assert (
        found["j-worker-0"].describe(NOW)
        == "pod j-worker-0: Pending, not scheduled: Unschedulable: 0/2 nodes (for 45 min)"
    )
    assert found["j-worker-2"].minutes(NOW) == 5
    assert restarts(pods) == 8


def test_a_failed_init_container_and_finished_pods() -> None:
    failed = {"name": "init-container", "state": {"terminated": {"exitCode": 1, "reason": "Error"}}}
    done = {"name": "pytorch", "state": {"terminated": {"exitCode": 0}}}
    pods = [
        _pod("a", 31, phase="Pending", initContainerStatuses=[failed]),
        _pod("b", 31, phase="Succeeded", containerStatuses=[done]),
    ]
    (stuck,) = stuck_pods(pods)
    assert stuck.cause == "init container failed: Error (exit code 1)" and stuck.container == "init-container"


def test_status_of_a_stuck_job_names_the_pod_the_cause_and_the_logs(cluster: Cluster) -> None:
    cluster.standin.default_script = JobScript.stuck(PodTrouble("ImagePullBackOff"), minutes_per_step=10)
    name = name_of()
    cluster.jobs.submit(name, "run-a", lite())
    statuses = [cluster.jobs.status(name, attempt) for attempt in range(4)]
    assert [round(s.stuck_minutes) for s in statuses] == [10, 20, 30, 40]
    last = statuses[-1]
    assert last.state is JobState.RUNNING
    assert last.stuck.startswith(f"pod {name}-master-0 container pytorch: ")
    assert "Back-off pulling image" in last.stuck or "ErrImagePull" in last.stuck
    assert f"logs: CloudWatch log group {LOG_GROUP}, streams of node hyperpod-i-" in last.stuck
