"""The job backend driven through the real client against the stand-in API: submit, follow, cancel, archive."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
import yaml
from botocore.exceptions import ClientError
from moto import mock_aws

from novacpt.adapters.k8s import CONFIGMAPS, EksTokenSource, KubernetesClient
from novacpt.adapters.kubernetes_jobs import (
    KubernetesJobs,
    KubernetesJobsSettings,
    cluster_log_group,
    kubernetes_jobs,
    s3_recipe_loader,
)
from novacpt.jobs.manifests import EXECUTION_LABEL, label_value
from novacpt.jobs.status import job_state, pod_problems
from novacpt.kernel.errors import PipelineError, RecipeInvalid, TransientError
from novacpt.kernel.ports import JobState
from novacpt.kernel.s3access import S3Access
from novacpt.kernel.settings import Deployment
from novacpt.naming import job_name
from novacpt.recipe import NovaCptRecipe, validate_recipe_file
from novacpt.steps.archive import archive_step
from novacpt.steps.job import poll_step, submit_step
from novacpt_dev.k8s_standin import FinishedJob, JobScript, KubernetesStandIn
from tests.conftest import ROOT

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


def summary(execution: str = "run-a") -> dict[str, Any]:
    return {"run_id": execution, "job_name": job_name("nova-lite-cpt", execution), "resolved_uri": RECIPE_URI}


@dataclass
class Cluster:
    standin: KubernetesStandIn
    jobs: KubernetesJobs
    finished: list[FinishedJob]
    loaded: list[str]

    def job(self, name: str) -> dict[str, Any] | None:
        return self.standin.objects("pytorchjobs", NS).get(name)


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    session = boto3.Session(aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret", region_name=REGION)
    finished: list[FinishedJob] = []
    loaded: list[str] = []

    def loader(uri: str) -> NovaCptRecipe:
        loaded.append(uri)
        return lite()

    with KubernetesStandIn(on_succeeded=finished.append) as standin:
        token = EksTokenSource(session, "hp-eks", REGION)
        jobs = KubernetesJobs(
            lambda: KubernetesClient(standin.url, token, allow_http=True, retries=1),
            region=REGION,
            account=ACCOUNT,
            log_group=LOG_GROUP,
            recipe_loader=loader,
        )
        yield Cluster(standin, jobs, finished, loaded)


def test_submit_creates_configmap_then_job_and_status_follows_the_conditions(cluster: Cluster) -> None:
    name = summary()["job_name"]
    cluster.jobs.submit(name, summary())
    assert cluster.loaded == [RECIPE_URI]
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


def test_submit_again_for_the_same_execution_is_success(cluster: Cluster) -> None:
    name = summary()["job_name"]
    cluster.jobs.submit(name, summary())
    cluster.jobs.submit(name, summary())  # a retried SubmitJob
    assert list(cluster.standin.objects("pytorchjobs", NS)) == [name]
    assert len(cluster.standin.objects("configmaps", NS)) == 1


def test_the_same_name_for_another_execution_is_an_error(cluster: Cluster) -> None:
    name = summary()["job_name"]
    cluster.jobs.submit(name, summary())
    with pytest.raises(PipelineError, match="already exists for execution run-a, not run-b") as error:
        cluster.jobs.submit(name, summary("run-b"))
    assert not isinstance(error.value, TransientError)
    assert (cluster.job(name) or {})["metadata"]["labels"][EXECUTION_LABEL] == label_value("run-a")


def test_failure_names_the_condition_the_pods_and_the_log_group(cluster: Cluster) -> None:
    cluster.standin.default_script = JobScript.failing("NCCL timeout on worker 0", reason="OOMKilled", exit_code=137)
    name = summary()["job_name"]
    cluster.jobs.submit(name, summary())
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
    name = summary()["job_name"]
    cluster.jobs.submit(name, summary())
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
        cluster.jobs.submit("job-1", summary())
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
    name = summary()["job_name"]
    cluster.jobs.submit(name, summary())
    cluster.jobs.status(name, 0)
    cluster.jobs.status(name, 1)
    with pytest.raises(TransientError, match="trainer simulation failed"):
        cluster.jobs.status(name, 2)
    assert calls == [name, name]  # the client retried the GET once
    assert [c["type"] for c in (cluster.job(name) or {})["status"]["conditions"]] == ["Created", "Running"]
    cluster.standin.on_succeeded = cluster.finished.append
    assert cluster.jobs.status(name, 3).state is JobState.SUCCEEDED
    assert [f.name for f in cluster.finished] == [name]


def test_the_cluster_is_reached_only_when_needed() -> None:
    calls: list[str] = []

    def throttled() -> KubernetesClient:
        calls.append("connect")
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow"}}, "DescribeCluster")

    def creating() -> KubernetesClient:
        raise ValueError("EKS cluster x has no API endpoint or CA yet")

    def backend(connect: Any) -> KubernetesJobs:
        return KubernetesJobs(
            connect, region=REGION, account=ACCOUNT, log_group=LOG_GROUP, recipe_loader=lambda _: lite()
        )

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
        cluster.jobs.submit("x" * 60, summary())  # too long for 16 replicas' service names
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
        "account_id": ACCOUNT,
        "region": REGION,
        "eks_cluster_name": "hp-eks",
        "hyperpod_cluster_name": "hp-cluster",
        "hyperpod_cluster_arn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:cluster/abc123def456",
        "unrelated": "ignored",
    }
    settings = KubernetesJobsSettings.model_validate(env)
    assert settings.job_namespace == "kubeflow"
    jobs = kubernetes_jobs(settings, S3Access(object(), ACCOUNT))
    assert jobs.log_group == LOG_GROUP == cluster_log_group("hp-cluster", env["hyperpod_cluster_arn"])
    assert (jobs.region, jobs.account, jobs.namespace) == (REGION, ACCOUNT, "kubeflow")
    with pytest.raises(ValueError, match="hyperpod_cluster_arn"):
        KubernetesJobsSettings.model_validate({**env, "hyperpod_cluster_arn": "hp-cluster"})


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for key, value in {"AWS_ACCESS_KEY_ID": "t", "AWS_SECRET_ACCESS_KEY": "t", "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        for bucket in ("data-bkt", "out-bkt", "archive-bkt"):
            s3.create_bucket(Bucket=bucket)
        yield s3


def test_recipe_loader_reads_and_revalidates_the_archived_recipe(aws: Any) -> None:
    text = yaml.safe_dump(lite().model_dump(mode="json", exclude_unset=True), sort_keys=False)
    aws.put_object(Bucket="archive-bkt", Key="runs/run-a/recipe.yaml", Body=text.encode())
    load = s3_recipe_loader(S3Access(aws, ACCOUNT))
    assert load(RECIPE_URI) == lite()
    aws.put_object(Bucket="archive-bkt", Key="runs/run-a/recipe.yaml", Body=text.replace("replicas: 16", "replicas: 5"))
    with pytest.raises(RecipeInvalid, match=r"run\.replicas"):
        load(RECIPE_URI)


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
            recipe_loader=s3_recipe_loader(s3),
        )
        recipe = {**summary(), "output_s3_path": "s3://out-bkt/a"}
        state: dict[str, Any] = {"recipe": recipe, "job": submit_step(jobs, recipe)}
        for attempt in range(10):
            state["poll"] = poll_step(jobs, state["job"], attempt, interval_seconds=0, max_seconds=60)
            if state["poll"]["state"] == "SUCCEEDED":
                break
        assert state["poll"]["attempt"] == 3
    result = archive_step(s3, deployment, state, succeeded=True, execution_arn="arn:aws:states:x:run-a")
    assert result["copied"] == 2
    assert result["checkpoint"] == f"s3://customer-escrow-{ACCOUNT}-x/{recipe['job_name']}/checkpoint"
