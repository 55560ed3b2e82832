"""The synthesised state machine, executed by moto's Step Functions engine with the real handlers in process.

The job functions drive the real Kubernetes job backend against the stand-in API (kubernetes_pipeline): after
each test, the RBAC the cluster stack installs must allow every request each function made.
"""

from __future__ import annotations

import io
import json

import boto3
import pytest

from novacpt.dataset import DatasetOptions, validate_stream
from novacpt.dataset.quality import assess
from novacpt.jobs.manifests import DEFAULT_NAMESPACE, config_map_name
from novacpt.naming import execution_name, job_name
from novacpt.run_report import report_data
from novacpt_dev.k8s_standin import JobScript
from tests.integration.emulated import ACCOUNT, REGION, TRAIN, Pipeline, lite_recipe, put_outputs

JOBS = "/apis/kubeflow.org/v1/namespaces/kubeflow/pytorchjobs"
CONFIGMAPS = "/api/v1/namespaces/kubeflow/configmaps"


@pytest.fixture
def pipeline(kubernetes_pipeline: Pipeline) -> Pipeline:
    """Every run here submits, follows and cancels its job on the stand-in Kubernetes API."""
    return kubernetes_pipeline


def _requests(p: Pipeline, function_prefix: str) -> list[tuple[str, str]]:
    """The Kubernetes requests of the deployed function whose name starts with `function_prefix`."""
    assert p.kubernetes is not None
    return [r for f, made in p.kubernetes.by_function.items() if f.startswith(function_prefix) for r in made]


def test_happy_path_archives_outputs_and_notifies(pipeline: Pipeline) -> None:
    uri = pipeline.drop("trial-a", lite_recipe())
    checkpoint = put_outputs(pipeline, "trial-a", "run-a")
    result = pipeline.local.wait(pipeline.local.start({"recipe_s3_uri": uri}, name="run-a"))
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert result.states[:12] == [
        "JoinQueue",
        "ValidateRecipe",
        "PlanValidation",
        "ValidateShards",  # a Distributed Map: its ValidateShard steps run as child executions
        "CountDuplicates",
        "CountPartition",
        "MergeReports",
        "Estimate",
        "Preflight",  # before any capacity is asked for
        "AcquireLease",
        "LeaseAcquired",
        "PrepareCapacity",
    ], result.states
    assert result.states[-4:] == ["ReleaseCapacity", "ArchiveOutputs", "NotifySuccess", "RunSucceeded"]
    # SubmitJob created the recipe's ConfigMap, then the PyTorchJob; PollJob followed it to Succeeded.
    name = job_name("nova-lite-cpt", "run-a")
    assert _requests(pipeline, "FunctionsSubmitJob") == [("POST", CONFIGMAPS), ("POST", JOBS)]
    polls = _requests(pipeline, "FunctionsPollJob")
    assert [r for r in polls if r[0] == "GET" and r[1] == f"{JOBS}/{name}"] == [("GET", f"{JOBS}/{name}")] * 3
    job = pipeline.standin.objects("pytorchjobs", DEFAULT_NAMESPACE)[name]
    assert [c["type"] for c in job["status"]["conditions"]] == ["Created", "Running", "Succeeded"]
    assert config_map_name(name) in pipeline.standin.objects("configmaps", DEFAULT_NAMESPACE)
    assert result.output is not None
    assert result.output["archive"]["checkpoint"] == checkpoint
    record = json.loads(
        pipeline.s3.get_object(Bucket=pipeline.local.buckets["archive"], Key="runs/run-a/run.json")["Body"].read()
    )
    assert record["status"] == "SUCCEEDED" and record["checkpoint"] == checkpoint
    assert len(record["outputs"]) == 4
    # The run report's data beside run.json, with the training dataset's report as MergeReports wrote it.
    archive = pipeline.local.buckets["archive"]
    assert result.output["archive"]["report"] == f"s3://{archive}/runs/run-a/report.json"
    report = json.loads(pipeline.s3.get_object(Bucket=archive, Key="runs/run-a/report.json")["Body"].read())
    (dataset,) = record["datasets"]
    dataset_report = pipeline.s3.get_object(
        Bucket=archive, Key="runs/run-a/reports/train.json", VersionId=dataset["report_version_id"]
    )
    assert report == report_data(record, {"train": json.loads(dataset_report["Body"].read())})
    assert report["status"] == "SUCCEEDED" and report["checkpoint"] == checkpoint
    assert report["datasets"][0]["records"] == dataset["records"] and report["datasets"][0]["length_histogram"]
    (message,) = pipeline.local.notifications()
    assert "SUCCEEDED" in message["message"] and checkpoint in message["message"]
    assert f"s3://{archive}/runs/run-a/report.json" in message["message"]


def _versions(p: Pipeline, prefix: str) -> dict[str, tuple[str, bytes]]:
    data = p.local.buckets["data"]
    listing = p.s3.list_object_versions(Bucket=data, Prefix=prefix)
    return {
        v["Key"]: (v["VersionId"], p.s3.get_object(Bucket=data, Key=v["Key"], VersionId=v["VersionId"])["Body"].read())
        for v in listing.get("Versions", [])
    }


def test_bad_dataset_stops_before_any_spend_and_names_the_lines(pipeline: Pipeline) -> None:
    bad = TRAIN + b"\n" + b'{"text": 7}\n'
    uri = pipeline.drop("trial-b", lite_recipe(), train=bad)
    before = _versions(pipeline, "jobs/trial-b/")
    result = pipeline.local.wait(pipeline.local.start({"recipe_s3_uri": uri}, name="run-b"))
    assert result.status == "FAILED"
    assert result.error == "DatasetInvalid"
    assert pipeline.called("FunctionsSubmitJob") == [] and pipeline.called("FunctionsPrepareCapacity") == []
    (message,) = pipeline.local.notifications()
    assert "train.jsonl:301: empty_line" in message["message"]
    assert "train.jsonl:302: text_not_string" in message["message"]
    assert _versions(pipeline, "jobs/trial-b/") == before  # nothing uploaded was changed or deleted
    report = json.loads(
        pipeline.s3.get_object(Bucket=pipeline.local.buckets["archive"], Key="runs/run-b/reports/train.json")[
            "Body"
        ].read()
    )
    assert report["error_counts"] == {"empty_line": 1, "text_not_string": 1}
    assert not [k for k in pipeline.keys("data") if not k.startswith("jobs/trial-b/")]  # nothing written to data


def test_bad_recipe_fails_with_every_problem_and_validates_no_data(pipeline: Pipeline) -> None:
    recipe = lite_recipe(**{"global_batch_size: 256": "global_batch_size: 100", "max_epochs: 1": "max_epoch: 1"})
    uri = pipeline.drop("trial-c", recipe)
    result = pipeline.local.wait(pipeline.local.start({"recipe_s3_uri": uri}, name="run-c"))
    assert result.status == "FAILED" and result.error == "RecipeInvalid"
    assert "training_config.global_batch_size" in (result.cause or "")
    assert "did you mean max_epochs?" in (result.cause or "")
    assert pipeline.called("FunctionsPlanValidation") == [] and pipeline.called("FunctionsValidateShard") == []
    assert pipeline.called("FunctionsSubmitJob") == []
    (message,) = pipeline.local.notifications()
    assert "RecipeInvalid" in message["message"]


def test_console_input_without_recipe_uri_is_a_clear_error(pipeline: Pipeline) -> None:
    result = pipeline.local.wait(pipeline.local.start({"recipe": "s3://x/y.yaml"}, name="run-console"))
    assert result.status == "FAILED" and result.error == "RecipeInvalid"
    assert "recipe_s3_uri" in (result.cause or "") and "Expected" in (result.cause or "")


def test_failed_job_archives_partial_outputs_and_releases_capacity(pipeline: Pipeline) -> None:
    pipeline.standin.default_script = JobScript.failing("NCCL timeout on worker 3")  # Created, Running, Failed
    uri = pipeline.drop("trial-d", lite_recipe())
    name = job_name("nova-lite-cpt", "run-d")
    out = pipeline.local.buckets["output"]
    pipeline.s3.put_object(Bucket=out, Key=f"trial-d/{name}/tensorboard/events.out.tfevents.0", Body=b"partial")
    result = pipeline.local.wait(pipeline.local.start({"recipe_s3_uri": uri}, name="run-d"))
    assert result.status == "FAILED" and result.error == "JobFailed"
    assert "NCCL timeout on worker 3" in (result.cause or "")
    assert len(pipeline.called("FunctionsPollJob")) == 3
    assert len(pipeline.called("FunctionsReleaseCapacity")) == 1
    assert len(pipeline.called("FunctionsCancelJob")) == 1
    assert "pod " + name + "-worker-0 container pytorch: Error (exit code 1)" in (result.cause or "")
    assert pipeline.standin.objects("pytorchjobs", DEFAULT_NAMESPACE) == {}  # the failed job is cleaned up
    assert "runs/run-d/outputs/tensorboard/events.out.tfevents.0" in pipeline.keys("archive", "runs/run-d/")
    record = json.loads(
        pipeline.s3.get_object(Bucket=pipeline.local.buckets["archive"], Key="runs/run-d/run.json")["Body"].read()
    )
    assert record["status"] == "FAILED" and record["error"]["Error"] == "JobFailed"
    assert pipeline.keys("output", f"trial-d/{name}/") == [f"trial-d/{name}/tensorboard/events.out.tfevents.0"]


def test_poll_timeout_cancels_the_job(pipeline: Pipeline) -> None:
    pipeline.standin.default_script = JobScript(("Created", "Running"))  # it would run forever
    pipeline.env["MAX_POLL_SECONDS"] = "0.001"
    uri = pipeline.drop("trial-e", lite_recipe())
    result = pipeline.local.wait(pipeline.local.start({"recipe_s3_uri": uri}, name="run-e"))
    assert result.status == "FAILED" and result.error == "JobTimedOut"
    name = job_name("nova-lite-cpt", "run-e")
    (cancel,) = pipeline.called("FunctionsCancelJob")
    assert cancel.result == {"cancelled": name}
    assert "JobTimedOut" in result.states
    deleted = [target.partition("?")[0] for method, target in _requests(pipeline, "FunctionsCancelJob")
               if method == "DELETE"]  # fmt: skip
    assert deleted == [f"{JOBS}/{name}", f"{CONFIGMAPS}/{config_map_name(name)}"]
    assert pipeline.standin.objects("pytorchjobs", DEFAULT_NAMESPACE) == {}
    assert pipeline.standin.objects("configmaps", DEFAULT_NAMESPACE) == {}
    assert pipeline.standin.objects("pods", DEFAULT_NAMESPACE) == {}  # they went with their job


def test_over_budget_stops_before_capacity(pipeline: Pipeline) -> None:
    pipeline.env["BUDGET_INSTANCE_HOURS"] = "0.01"
    uri = pipeline.drop("trial-f", lite_recipe())
    result = pipeline.local.wait(pipeline.local.start({"recipe_s3_uri": uri}, name="run-f"))
    assert result.status == "FAILED" and result.error == "BudgetExceeded"
    assert pipeline.called("FunctionsPrepareCapacity") == []


def test_repeated_trigger_event_starts_one_execution(pipeline: Pipeline) -> None:
    uri = pipeline.drop("trial-g", lite_recipe())
    data = pipeline.local.buckets["data"]
    version = pipeline.s3.head_object(Bucket=data, Key="jobs/trial-g/recipe.yaml")["VersionId"]
    event = {
        "version": "0",
        "id": "e1",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": ACCOUNT,
        "time": "2026-11-28T00:00:00Z",
        "region": REGION,
        "resources": [f"arn:aws:s3:::{data}"],
        "detail": {
            "version": "0",
            "bucket": {"name": data},
            "object": {"key": "jobs/trial-g/recipe.yaml", "size": 10, "etag": "x", "version-id": version},
            "request-id": "r",
            "requester": ACCOUNT,
        },
    }
    lambda_ = boto3.client("lambda", region_name=REGION)
    (trigger,) = [f["FunctionName"] for f in lambda_.list_functions()["Functions"] if "Trigger" in f["FunctionName"]]
    put_outputs(pipeline, "trial-g", execution_name(data, "jobs/trial-g/recipe.yaml", version))
    answers = [
        json.loads(lambda_.invoke(FunctionName=trigger, Payload=json.dumps(event))["Payload"].read()) for _ in range(3)
    ]
    assert answers[0]["started"] is True and uri.endswith("jobs/trial-g/recipe.yaml")
    sfn = boto3.client("stepfunctions", region_name=REGION)
    executions = sfn.list_executions(stateMachineArn=pipeline.local.state_machine_arn)["executions"]
    assert len(executions) == 1
    assert {a["execution_name"] for a in answers} == {executions[0]["name"]}
    assert pipeline.local.wait(executions[0]["executionArn"]).status == "SUCCEEDED"
    other = json.loads(json.dumps(event).replace("jobs/trial-g/recipe.yaml", "jobs/trial-g/train.jsonl"))
    ignored = json.loads(lambda_.invoke(FunctionName=trigger, Payload=json.dumps(other))["Payload"].read())
    assert ignored["started"] is False


def test_success_without_manifest_fails_with_a_clear_reason(pipeline: Pipeline) -> None:
    uri = pipeline.drop("trial-h", lite_recipe())
    result = pipeline.local.wait(pipeline.local.start({"recipe_s3_uri": uri}, name="run-h"))
    assert result.status == "FAILED" and result.error == "OutputsMissing"
    assert "manifest.json is missing" in (result.cause or "")
    assert len(pipeline.called("FunctionsReleaseCapacity")) == 2  # after success, and again on the failure path


def test_sharded_validation_reports_global_lines_and_duplicates(pipeline: Pipeline) -> None:
    """A dataset split into many shards (Distributed Map) gets the report of a single pass."""
    pipeline.env["SHARD_BYTES"] = "997"
    bad = TRAIN + TRAIN[:500] + b"\n" + b'{"text": 7}\n' + TRAIN
    uri = pipeline.drop("trial-s", lite_recipe(), train=bad)
    result = pipeline.local.wait(pipeline.local.start({"recipe_s3_uri": uri}, name="run-s"))
    assert result.status == "FAILED" and result.error == "DatasetInvalid"
    assert len(pipeline.called("FunctionsValidateShard")) == -(-len(bad) // 997)
    report = json.loads(
        pipeline.s3.get_object(Bucket=pipeline.local.buckets["archive"], Key="runs/run-s/reports/train.json")[
            "Body"
        ].read()
    )
    expected = validate_stream(
        io.BytesIO(bad), "train.jsonl", DatasetOptions(max_length=8192, global_batch_size=256, max_epochs=1)
    )
    quality = assess(io.BytesIO(bad))  # the corpus quality of one local pass, merged from the shards exactly
    expected.quality = quality.model_dump(mode="json", exclude_none=True)
    expected.warnings.extend(quality.warnings())
    single = expected.to_json_dict()
    assert {k: report[k] for k in single} == single
    assert single["stats"]["exact_duplicates"]["count"] > 300
