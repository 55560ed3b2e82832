"""The pipeline's steps (novacpt.steps) and Lambda handlers (lambdas/) against moto, without Step Functions.

Each test gets fresh moto buckets (data, output, archive; versioned like the real ones) in
moto's default account. Handlers are called the way Lambda calls them: a dict event and a
LambdaContext (Powertools' testing convention), with the environment the stack gives them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
    ReadTimeoutError,
)
from botocore.stub import ANY, Stubber
from hypothesis import given, settings
from hypothesis import strategies as st
from moto import mock_aws

from lambdas import runtime
from novacpt.contract import DatasetLimits, DatasetRef, ExecutionInput, RecipeSummary, RunState
from novacpt.drop import drop_job
from novacpt.kernel.errors import (
    BudgetExceeded,
    DatasetInvalid,
    OutputsMissing,
    PipelineError,
    RecipeInvalid,
    TransientError,
    is_transient,
)
from novacpt.kernel.s3access import S3Access
from novacpt.kernel.settings import Deployment, RecipeSettings
from novacpt.naming import EXECUTION_NAME_MAX, JOB_NAME_MAX, execution_name, job_name
from novacpt.steps.archive import archive_step, checkpoint_record_uri
from novacpt.steps.dataset import SHOWN_ERRORS, validate_dataset_step
from novacpt.steps.estimate import estimate_step
from novacpt.steps.notify import SUBJECT_MAX, build_message
from novacpt.steps.recipe import validate_recipe_step
from novacpt_dev.emulator.events import object_created_event
from novacpt_dev.fakes import ScriptedCluster
from tests.conftest import ROOT
from tests.examples import dataset_summary, estimate_result, recipe_summary, run_state

ACCOUNT = "123456789012"  # moto's default account
REGION = "us-east-1"
DATA, OUTPUT, ARCHIVE = "nova-cpt-data-test", "nova-cpt-output-test", "nova-cpt-archive-test"
RECIPE = (ROOT / "recipes" / "nova_micro_cpt.yaml").read_bytes()  # 8 replicas, max_length 8192, batch 256
RUN_ID = "j1-0123456789abcdef0123"
LIMITS = DatasetLimits(max_length=8192, global_batch_size=256, max_epochs=1)


def _jsonl(n: int, tag: str = "note") -> bytes:
    return b"".join(
        json.dumps({"text": f"Clinical {tag} {i}: dosage and outcomes."}).encode() + b"\n" for i in range(n)
    )


TRAIN = _jsonl(300)
VALIDATION = _jsonl(40, "validation")


@dataclass
class FakeLambdaContext:
    """What Powertools reads from the Lambda context (its documented testing stand-in)."""

    function_name: str = "test"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:test"
    aws_request_id: str = "52fdfc07-2182-154f-163f-5f0f9a621d72"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


# --------------------------------------------------------------------------- fixtures


class World:
    """moto's S3 with the deployment's three buckets, and helpers to drop and inspect objects."""

    def __init__(self) -> None:
        self.client = boto3.client("s3", region_name=REGION)
        for bucket in (DATA, OUTPUT, ARCHIVE):
            self.make_bucket(bucket)
        self.deployment = Deployment(
            account_id=ACCOUNT, region=REGION, data_bucket=DATA, output_bucket=OUTPUT, archive_bucket=ARCHIVE
        )
        self.s3 = S3Access(self.client, ACCOUNT)

    def make_bucket(self, bucket: str, region: str = REGION) -> None:
        if region == "us-east-1":
            self.client.create_bucket(Bucket=bucket)
        else:
            self.client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
        self.client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})

    def put(self, bucket: str, key: str, body: bytes) -> str:
        self.client.put_object(Bucket=bucket, Key=key, Body=body)
        return f"s3://{bucket}/{key}"

    def drop(
        self, job: str = "j1", recipe: bytes = RECIPE, train: bytes | None = TRAIN, validation: bytes | None = None
    ) -> str:
        if train is not None:
            self.put(DATA, f"jobs/{job}/train.jsonl", train)
        if validation is not None:
            self.put(DATA, f"jobs/{job}/validation.jsonl", validation)
        return self.put(DATA, f"jobs/{job}/recipe.yaml", recipe)

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        return [o["Key"] for page in paginator.paginate(Bucket=bucket, Prefix=prefix) for o in page.get("Contents", [])]

    def read(self, bucket: str, key: str) -> bytes:
        body: bytes = self.client.get_object(Bucket=bucket, Key=key)["Body"].read()
        return body

    def snapshot(self, bucket: str) -> dict[tuple[str, str], tuple[str, bool, bytes]]:
        """Every version of every object: (key, version) -> (etag, is latest, bytes); plus delete markers."""
        state: dict[tuple[str, str], tuple[str, bool, bytes]] = {}
        paginator = self.client.get_paginator("list_object_versions")
        for page in paginator.paginate(Bucket=bucket):
            for version in page.get("Versions", []):
                body = self.client.get_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])
                state[(version["Key"], version["VersionId"])] = (
                    version["ETag"],
                    version["IsLatest"],
                    body["Body"].read(),
                )
            for marker in page.get("DeleteMarkers", []):
                state[(marker["Key"], marker["VersionId"])] = ("delete-marker", marker["IsLatest"], b"")
        return state


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The environment the stack gives the functions (the rest: tests/conftest.py); no cached clients."""
    for name, value in {
        "ACCOUNT_ID": ACCOUNT,
        "REGION": REGION,
        "DATA_BUCKET": DATA,
        "OUTPUT_BUCKET": OUTPUT,
        "ARCHIVE_BUCKET": ARCHIVE,
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("MAX_REPLICAS", "BUDGET_INSTANCE_HOURS", "PRICE_PER_INSTANCE_HOUR"):
        monkeypatch.delenv(name, raising=False)
    runtime.deployment.cache_clear()
    runtime.s3.cache_clear()
    yield
    runtime.deployment.cache_clear()
    runtime.s3.cache_clear()


@pytest.fixture
def world(aws_env: None) -> Iterator[World]:
    with mock_aws():
        yield World()


@pytest.fixture
def ctx() -> FakeLambdaContext:
    return FakeLambdaContext()


pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")


def _recipe_step(
    world: World, uri: str, overrides: dict[str, Any] | None = None, run_id: str = RUN_ID
) -> dict[str, Any]:
    run = ExecutionInput(recipe_s3_uri=uri, overrides=overrides or {})
    return validate_recipe_step(world.s3, _settings(world.deployment), run, run_id=run_id).model_dump(mode="json")


def _settings(deployment: Deployment) -> RecipeSettings:
    return RecipeSettings(**deployment.model_dump())


def _dataset_step(world: World, role: str, uri: str) -> dict[str, Any]:
    dataset = DatasetRef(role=role, uri=uri)  # type: ignore[arg-type]
    summary = validate_dataset_step(world.s3, world.deployment, run_id=RUN_ID, dataset=dataset, limits=LIMITS)
    return summary.model_dump(mode="json")


# --------------------------------------------------------------------------- ValidateRecipe


def test_recipe_paths_are_filled_from_the_drop(world: World) -> None:
    uri = world.drop("j1")
    summary = _recipe_step(world, uri)
    assert summary["datasets"] == [{"role": "train", "uri": f"s3://{DATA}/jobs/j1/train.jsonl"}]
    assert summary["output_s3_path"] == f"s3://{OUTPUT}/j1"
    assert summary["source_uri"] == uri
    assert summary["run_id"] == RUN_ID
    assert summary["model"] == "micro"
    limits = summary["limits"]
    assert (summary["replicas"], limits["max_length"], limits["global_batch_size"], limits["max_epochs"]) == (
        8,
        8192,
        256,
        1,
    )
    assert summary["job_name"] == job_name("nova-micro-cpt", RUN_ID)


def test_recipe_is_read_and_parsed_once(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """One GetObject and one YAML parse serve both the paths to fill and every rule."""
    import novacpt.recipe.validate as rules
    import novacpt.steps.recipe as step

    uri = world.drop("j1")
    parses: list[str] = []
    reads: list[str] = []
    load, read = step.load_recipe_yaml, S3Access.read

    def counted_load(data: bytes | str, *, source: str = "recipe.yaml") -> Any:
        parses.append(source)
        return load(data, source=source)

    def counted_read(self: S3Access, u: str, *, max_bytes: int, version_id: str | None = None) -> bytes:
        reads.append(u)
        return read(self, u, max_bytes=max_bytes, version_id=version_id)

    for module in (step, rules):
        monkeypatch.setattr(module, "load_recipe_yaml", counted_load)
    monkeypatch.setattr(S3Access, "read", counted_read)
    _recipe_step(world, uri)
    assert parses == ["recipe.yaml"]
    assert reads == [uri]


def test_validation_dataset_is_used_when_dropped(world: World) -> None:
    uri = world.drop("j2", validation=VALIDATION)
    summary = _recipe_step(world, uri)
    assert summary["datasets"] == [
        {"role": "train", "uri": f"s3://{DATA}/jobs/j2/train.jsonl"},
        {"role": "validation", "uri": f"s3://{DATA}/jobs/j2/validation.jsonl"},
    ]


def test_resolved_recipe_is_archived_under_the_run_and_nothing_is_written_under_jobs(world: World) -> None:
    uri = world.drop("j1", validation=VALIDATION)
    before = world.snapshot(DATA)
    summary = _recipe_step(world, uri)
    assert summary["resolved_uri"] == f"s3://{ARCHIVE}/runs/{RUN_ID}/recipe.yaml"
    assert world.keys(ARCHIVE) == [f"runs/{RUN_ID}/recipe.yaml"]
    resolved = world.read(ARCHIVE, f"runs/{RUN_ID}/recipe.yaml").decode()
    assert f"data_s3_path: s3://{DATA}/jobs/j1/train.jsonl" in resolved
    assert f"validation_data_s3_path: s3://{DATA}/jobs/j1/validation.jsonl" in resolved
    assert f"output_s3_path: s3://{OUTPUT}/j1" in resolved
    assert world.snapshot(DATA) == before  # the drop is untouched: same versions, same bytes
    assert world.keys(OUTPUT) == []


def test_explicit_paths_in_the_recipe_are_kept(world: World) -> None:
    world.put(DATA, "corpora/big.jsonl", TRAIN)
    uri = world.drop("j3", train=None)
    summary = _recipe_step(
        world, uri, {"run.data_s3_path": f"s3://{DATA}/corpora/big.jsonl", "run.output_s3_path": f"s3://{OUTPUT}/x/"}
    )
    assert summary["datasets"] == [{"role": "train", "uri": f"s3://{DATA}/corpora/big.jsonl"}]
    assert summary["output_s3_path"] == f"s3://{OUTPUT}/x"


def test_path_in_another_bucket_is_rejected(world: World) -> None:
    world.make_bucket("someone-elses-bucket")
    world.put("someone-elses-bucket", "train.jsonl", TRAIN)
    uri = world.drop("j1")
    with pytest.raises(RecipeInvalid) as info:
        _recipe_step(world, uri, {"run.data_s3_path": "s3://someone-elses-bucket/train.jsonl"})
    message = str(info.value)
    assert message.startswith(f"{uri}: 1 problem(s):")
    assert "run.data_s3_path: s3://someone-elses-bucket/train.jsonl is outside the bucket" in message
    assert f"s3://{DATA}/" in message
    assert world.keys(ARCHIVE) == []  # nothing archived for a rejected recipe


def test_bucket_in_another_region_is_rejected(world: World) -> None:
    world.make_bucket("nova-cpt-output-ireland", region="eu-west-1")
    deployment = world.deployment.model_copy(update={"output_bucket": "nova-cpt-output-ireland"})
    uri = world.drop("j1")
    with pytest.raises(RecipeInvalid) as info:
        validate_recipe_step(world.s3, _settings(deployment), ExecutionInput(recipe_s3_uri=uri), run_id=RUN_ID)
    assert (
        f"run.output_s3_path: s3://nova-cpt-output-ireland/j1 is in eu-west-1; it must be in the deployment's "
        f"region {REGION}" in str(info.value)
    )


def test_missing_dataset_is_rejected(world: World) -> None:
    uri = world.drop("j1", train=None)
    with pytest.raises(RecipeInvalid) as info:
        _recipe_step(world, uri)
    assert (
        f"run.data_s3_path: s3://{DATA}/jobs/j1/train.jsonl does not exist: upload the dataset before the recipe"
        in str(info.value)
    )


def test_bad_recipe_names_the_dotted_field(world: World) -> None:
    uri = world.drop("j1", recipe=RECIPE.replace(b"replicas: 8 ", b"replicas: 3 "))
    with pytest.raises(RecipeInvalid) as info:
        _recipe_step(world, uri)
    message = str(info.value)
    assert re.search(r"^  run\.replicas: 3 is not allowed", message, re.MULTILINE), message
    assert world.keys(ARCHIVE) == []


def test_bad_override_names_the_dotted_field(world: World) -> None:
    uri = world.drop("j1")
    with pytest.raises(RecipeInvalid) as info:
        _recipe_step(world, uri, {"training_config.global_batch_size": 100})
    assert "training_config.global_batch_size" in str(info.value)


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        (f"s3://{DATA}/jobs/j1/nothing-here.yaml", "no such object"),
        ("s3://no-such-bucket-anywhere/jobs/j1/recipe.yaml", "no such bucket"),
        ("https://example.com/recipe.yaml", "must be an s3:// URI"),
        ("s3://Bad_Bucket/recipe.yaml", "bucket name 'Bad_Bucket'"),
    ],
)
def test_unreadable_recipe_uri_is_recipe_invalid(world: World, uri: str, expected: str) -> None:
    with pytest.raises(RecipeInvalid) as info:
        _recipe_step(world, uri)
    assert expected in str(info.value)


def test_recipe_in_a_bucket_of_another_account_is_refused(aws_env: None) -> None:
    """Every call names the expected owner; S3 answers AccessDenied for a bucket of another account."""
    client = boto3.client("s3", region_name=REGION)
    deployment = Deployment(
        account_id=ACCOUNT, region=REGION, data_bucket=DATA, output_bucket=OUTPUT, archive_bucket=ARCHIVE
    )
    uri = f"s3://{DATA}/jobs/j1/recipe.yaml"
    with Stubber(client) as stub:
        stub.add_client_error(
            "get_object",
            service_error_code="AccessDenied",
            http_status_code=403,
            expected_params={
                "Bucket": DATA,
                "Key": "jobs/j1/recipe.yaml",
                "Range": ANY,
                "ExpectedBucketOwner": ACCOUNT,
            },
        )
        with pytest.raises(RecipeInvalid) as info:
            validate_recipe_step(
                S3Access(client, ACCOUNT), _settings(deployment), ExecutionInput(recipe_s3_uri=uri), run_id=RUN_ID
            )
        stub.assert_no_pending_responses()
    assert (
        str(info.value)
        == f"{uri}: access denied: the bucket must belong to account {ACCOUNT} and be one the pipeline may use"
    )


# --------------------------------------------------------------------------- ValidateDatasets


def test_valid_dataset_summary_and_report(world: World) -> None:
    uri = world.put(DATA, "jobs/j1/train.jsonl", TRAIN)
    version = world.client.head_object(Bucket=DATA, Key="jobs/j1/train.jsonl")["VersionId"]
    summary = _dataset_step(world, "train", uri)
    assert summary["role"] == "train"
    assert summary["uri"] == uri
    assert summary["records"] == 300
    assert summary["bytes"] == len(TRAIN)
    assert summary["version_id"] == version
    assert summary["estimated_tokens"] > 0
    assert summary["report_uri"] == f"s3://{ARCHIVE}/runs/{RUN_ID}/reports/train.json"
    written = world.client.head_object(Bucket=ARCHIVE, Key=f"runs/{RUN_ID}/reports/train.json")
    assert summary["report_version_id"] == written["VersionId"]  # ArchiveOutputs reads this version
    report = json.loads(world.read(ARCHIVE, f"runs/{RUN_ID}/reports/train.json"))
    assert report["dataset"] == uri
    assert report["version_id"] == version
    assert report["valid"] is True


def test_invalid_dataset_names_its_first_bad_lines_and_keeps_the_full_report(world: World) -> None:
    lines = TRAIN.splitlines(keepends=True)
    body = b"".join([lines[0], lines[1], b"\n", lines[2], b"{not json\n", *lines[3:]])
    uri = world.put(DATA, "jobs/j1/train.jsonl", body)
    with pytest.raises(DatasetInvalid) as info:
        _dataset_step(world, "train", uri)
    message = str(info.value)
    assert message.splitlines()[0] == f"{uri}: 2 error(s) (empty_line: 1, invalid_json: 1)"
    assert "train.jsonl:3: empty_line" in message
    assert "train.jsonl:5: invalid_json" in message
    assert message.index("train.jsonl:3:") < message.index("train.jsonl:5:")
    report_key = f"runs/{RUN_ID}/reports/train.json"
    assert message.splitlines()[-1] == f"  full report: s3://{ARCHIVE}/{report_key}"
    report = json.loads(world.read(ARCHIVE, report_key))  # written before the error is raised
    assert report["valid"] is False
    assert report["error_counts"] == {"empty_line": 1, "invalid_json": 1}


def test_many_errors_show_the_first_ten(world: World) -> None:
    uri = world.put(DATA, "jobs/j1/validation.jsonl", b"\n" * 25 + TRAIN)
    with pytest.raises(DatasetInvalid) as info:
        _dataset_step(world, "validation", uri)
    message = str(info.value)
    assert message.count(": empty_line: ") == SHOWN_ERRORS
    assert "validation.jsonl:1: empty_line" in message
    assert "validation.jsonl:11:" not in message
    assert message.splitlines()[-1] == f"  ... full report: s3://{ARCHIVE}/runs/{RUN_ID}/reports/validation.json"


def test_validation_never_modifies_an_upload(world: World) -> None:
    """Recipe and dataset validation read the drop; versions, ETags and bytes stay as the user uploaded them."""
    bad = TRAIN + b"\n"
    recipe_uri = world.drop("j1", train=bad, validation=VALIDATION)
    before = world.snapshot(DATA)
    summary = _recipe_step(world, recipe_uri)
    invalid = []
    for dataset in summary["datasets"]:
        try:
            _dataset_step(world, dataset["role"], dataset["uri"])
        except DatasetInvalid:
            invalid.append(dataset["role"])
    assert invalid == ["train"]  # the trailing empty line
    assert world.snapshot(DATA) == before
    assert all(key.startswith(f"runs/{RUN_ID}/") for key in world.keys(ARCHIVE))


# --------------------------------------------------------------------------- Estimate


def _summary(replicas: int = 8, epochs: int = 1) -> RecipeSummary:
    overrides = {"run.replicas": replicas, "training_config.trainer.max_epochs": epochs}
    return recipe_summary("nova_micro_cpt.yaml", overrides)  # max_length 8192, batch 256


# 102,400 sequences of 8,192 tokens: 400 steps of 256 (the seed's 100,000 samples, rounded to whole batches).
DATASETS = [
    dataset_summary(role="train", records=90_000, estimated_tokens=102_400 * 8192),
    dataset_summary(role="validation", records=5_000, estimated_tokens=10**9),
]


def _estimate(summary: RecipeSummary, **options: Any) -> dict[str, Any]:
    return estimate_step(summary, DATASETS, **options).model_dump(mode="json")


def test_estimate_plans_the_training_tokens_with_the_planner() -> None:
    estimate = _estimate(_summary(), budget_instance_hours=None, price_per_instance_hour=None)
    assert estimate["tokens"] == 102_400 * 8192
    assert estimate["steps"] == 400 and estimate["steps_per_epoch"] == 400
    assert estimate["replicas"] == 8
    assert estimate["hours"] == pytest.approx(4.0 * 1.024, abs=1e-3)  # the seed: 4 h for 100,000 samples
    assert estimate["instance_hours"] == pytest.approx(estimate["hours"] * 8, rel=1e-3)
    assert estimate["cost_usd"] is None


def test_estimate_of_a_2_0_run_costs_the_recipe_steps_and_suggests_a_count() -> None:
    summary = recipe_summary("nova_lite_2_cpt.yaml", {"training_config.trainer.max_steps": 10})
    estimate = _estimate(summary, budget_instance_hours=None, price_per_instance_hour=None)
    assert estimate["steps"] == 10 and estimate["suggested_max_steps"] == 400
    assert any(w["code"] == "max_steps_below_pass" for w in estimate["warnings"])


def test_estimate_with_a_price_has_a_cost() -> None:
    estimate = _estimate(_summary(), budget_instance_hours=None, price_per_instance_hour=100.0)
    assert estimate["cost_usd"] == pytest.approx(estimate["instance_hours"] * 100.0, abs=0.01)


def test_estimate_over_budget_is_budget_exceeded() -> None:
    within = _estimate(_summary(), budget_instance_hours=None, price_per_instance_hour=None)
    _estimate(_summary(), budget_instance_hours=within["instance_hours"], price_per_instance_hour=None)
    with pytest.raises(BudgetExceeded) as info:
        _estimate(_summary(epochs=3), budget_instance_hours=within["instance_hours"], price_per_instance_hour=None)
    assert "is over the budget of" in str(info.value)
    assert "budget_instance_hours" in str(info.value)


# --------------------------------------------------------------------------- ArchiveOutputs


JOB = "nova-micro-cpt-34e9aede"
SOURCE = f"s3://{OUTPUT}/j1/{JOB}/"
CHECKPOINT = "s3://customer-escrow-123456789012-smtj-abc/j1/outputs/checkpoints"


ESTIMATE = estimate_result(hours=1.5, instance_hours=12.0)


def _run_state(**extra: Any) -> RunState:
    state: dict[str, Any] = {
        "recipe_s3_uri": f"s3://{DATA}/jobs/j1/recipe.yaml",
        "recipe": recipe_summary(
            "nova_micro_cpt.yaml",
            run_id=RUN_ID,
            job_name=JOB,
            source_uri=f"s3://{DATA}/jobs/j1/recipe.yaml",
            resolved_uri=f"s3://{ARCHIVE}/runs/{RUN_ID}/recipe.yaml",
            output_s3_path=f"s3://{OUTPUT}/j1",
        ),
        "datasets": [dataset_summary(uri=f"s3://{DATA}/jobs/j1/train.jsonl", records=300)],
        "estimate": ESTIMATE,
        "job": {"job_name": JOB, "submitted_at": "2026-01-01T00:00:00+00:00"},
        "poll": {"attempt": 3, "elapsed_seconds": 3600.0},
    }
    state.update(extra)
    return run_state(**state)


EXECUTION_ARN = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:NovaCptRun:{RUN_ID}"


def _put_outputs(world: World, tensorboard_files: int = 3, manifest: bool = True) -> dict[str, bytes]:
    files = {f"tensorboard/events.out.tfevents.{i:05d}": f"event {i}".encode() for i in range(tensorboard_files)}
    if manifest:
        files["manifest.json"] = json.dumps({"checkpoint_s3_bucket": CHECKPOINT}).encode()
    for relative, body in files.items():
        world.client.put_object(Bucket=OUTPUT, Key=f"j1/{JOB}/{relative}", Body=body)
    return files


def test_archive_copies_outputs_extracts_the_checkpoint_and_writes_run_json(world: World) -> None:
    files = _put_outputs(world)
    before = world.snapshot(OUTPUT)
    result = archive_step(world.s3, world.deployment, _run_state(), succeeded=True, execution_arn=EXECUTION_ARN)
    archive_root = f"runs/{RUN_ID}/outputs/"
    assert result.model_dump() == {
        "run_record": f"s3://{ARCHIVE}/runs/{RUN_ID}/run.json",
        "report": f"s3://{ARCHIVE}/runs/{RUN_ID}/report.json",
        "outputs": f"s3://{ARCHIVE}/{archive_root}",
        "copied": len(files),
        "checkpoint": CHECKPOINT,
    }
    # Recorded, so that a later run may start from it (ValidateRecipe's checkpoint check).
    assert world.s3.head(checkpoint_record_uri(ARCHIVE, CHECKPOINT)) is not None
    for relative, body in files.items():
        assert world.read(ARCHIVE, archive_root + relative) == body
    record = json.loads(world.read(ARCHIVE, f"runs/{RUN_ID}/run.json"))
    assert record["status"] == "SUCCEEDED"
    assert record["run_id"] == RUN_ID
    assert record["execution_arn"] == EXECUTION_ARN
    assert record["job_name"] == JOB
    assert record["checkpoint"] == CHECKPOINT
    assert record["recipe"] == {
        "source": f"s3://{DATA}/jobs/j1/recipe.yaml",
        "source_version_id": None,
        "as_run": f"s3://{ARCHIVE}/runs/{RUN_ID}/recipe.yaml",
    }
    assert record["timings"]["submitted_at"] == "2026-01-01T00:00:00+00:00"
    assert record["timings"]["elapsed_seconds"] == 3600.0
    assert record["estimate"] == ESTIMATE.model_dump(mode="json")
    assert {o["source"] for o in record["outputs"]} == {SOURCE + r for r in files}
    assert all(o["archived"] == f"s3://{ARCHIVE}/{archive_root}{o['source'][len(SOURCE) :]}" for o in record["outputs"])
    assert record["error"] is None
    assert world.snapshot(OUTPUT) == before  # sources are copied, never moved or deleted


@pytest.mark.slow
def test_archive_pages_through_more_than_a_thousand_outputs(world: World) -> None:
    count = 1001 + 3  # more than one list_objects_v2 page of 1,000 keys
    files = _put_outputs(world, tensorboard_files=count - 1)
    result = archive_step(world.s3, world.deployment, _run_state(), succeeded=True, execution_arn=EXECUTION_ARN)
    assert result.copied == len(files) == count
    archived = world.keys(ARCHIVE, f"runs/{RUN_ID}/outputs/")
    assert len(archived) == count
    assert f"runs/{RUN_ID}/outputs/tensorboard/events.out.tfevents.{count - 2:05d}" in archived
    assert len(world.keys(OUTPUT)) == count  # nothing deleted at the source


def test_archive_after_success_without_manifest_is_outputs_missing(world: World) -> None:
    _put_outputs(world, manifest=False)
    before = world.snapshot(OUTPUT)
    with pytest.raises(OutputsMissing) as info:
        archive_step(world.s3, world.deployment, _run_state(), succeeded=True, execution_arn=EXECUTION_ARN)
    assert f"{SOURCE}manifest.json is missing" in str(info.value)
    assert world.snapshot(OUTPUT) == before


def test_archive_after_failure_keeps_what_exists_and_the_error(world: World) -> None:
    _put_outputs(world, tensorboard_files=2, manifest=False)
    error = {"Error": "JobFailed", "Cause": "job failed: OOM"}
    result = archive_step(
        world.s3, world.deployment, _run_state(error=error), succeeded=False, execution_arn=EXECUTION_ARN
    )
    assert result.copied == 2
    assert result.checkpoint is None
    record = json.loads(world.read(ARCHIVE, f"runs/{RUN_ID}/run.json"))
    assert record["status"] == "FAILED"
    assert record["error"] == error


def test_archive_of_a_run_that_failed_before_validation_writes_only_the_record(world: World) -> None:
    state = run_state(recipe_s3_uri="s3://x/y", error={"Error": "RecipeInvalid", "Cause": "bad"})
    result = archive_step(world.s3, world.deployment, state, succeeded=False, execution_arn=EXECUTION_ARN)
    assert result.copied == 0
    # run id from the execution ARN; the report says what is known (the error)
    assert world.keys(ARCHIVE) == [f"runs/{RUN_ID}/report.json", f"runs/{RUN_ID}/run.json"]
    report = json.loads(world.read(ARCHIVE, f"runs/{RUN_ID}/report.json"))
    assert report["status"] == "FAILED" and report["error"] == {"Error": "RecipeInvalid", "Cause": "bad"}


def test_archive_tolerates_an_unreadable_manifest(world: World) -> None:
    world.client.put_object(Bucket=OUTPUT, Key=f"j1/{JOB}/manifest.json", Body=b"not json")
    result = archive_step(world.s3, world.deployment, _run_state(), succeeded=True, execution_arn=EXECUTION_ARN)
    assert result.checkpoint is None
    assert result.copied == 1


# --------------------------------------------------------------------------- Notify


def _message(state: RunState, **options: Any) -> tuple[str, str]:
    note = build_message(state, **options)
    return note.subject, note.message


def test_success_message() -> None:
    archived = {
        "run_record": f"s3://{ARCHIVE}/runs/{RUN_ID}/run.json",
        "report": f"s3://{ARCHIVE}/runs/{RUN_ID}/report.json",
        "outputs": "",
        "copied": 0,
    }
    state = _run_state(archive={**archived, "checkpoint": CHECKPOINT})
    subject, body = _message(state, succeeded=True, execution_arn=EXECUTION_ARN, log_group=None)
    assert subject == f"Nova CPT succeeded: {JOB}"
    lines = body.splitlines()
    assert lines[:3] == ["Nova CPT run SUCCEEDED", f"job: {JOB}", f"execution: {EXECUTION_ARN}"]
    assert f"recipe: s3://{DATA}/jobs/j1/recipe.yaml" in lines
    assert "estimate: 1.5 h, 12.0 P5 instance-hours" in lines
    assert f"run record: s3://{ARCHIVE}/runs/{RUN_ID}/run.json" in lines
    assert f"run report: s3://{ARCHIVE}/runs/{RUN_ID}/report.json (cpt report {RUN_ID} draws it)" in lines
    assert f"checkpoint (use as run.model_name_or_path to continue): {CHECKPOINT}" in lines
    assert "reason:" not in body


def test_failure_message_says_why_from_the_lambda_error() -> None:
    cause = json.dumps(
        {"errorMessage": "s3://d/jobs/j1/train.jsonl: 1 error(s)\n  s3://d/jobs/j1/train.jsonl:3: empty_line: ..."}
    )
    state = _run_state(error={"Error": "DatasetInvalid", "Cause": cause})
    subject, body = _message(state, succeeded=False, execution_arn=EXECUTION_ARN, log_group="/hyperpod/cluster")
    assert subject == f"Nova CPT FAILED: {JOB}"
    assert "reason: DatasetInvalid" in body
    assert "train.jsonl:3: empty_line" in body
    assert "errorMessage" not in body  # the JSON envelope is unwrapped
    assert body.splitlines()[-1] == "cluster logs: CloudWatch log group /hyperpod/cluster"


def test_failure_before_the_recipe_was_read() -> None:
    state = run_state(error={"Error": "JobTimedOut", "Cause": "the job was still running after max_poll_hours"})
    subject, body = _message(state, succeeded=False, execution_arn=EXECUTION_ARN, log_group=None)
    assert subject == "Nova CPT FAILED: (not started)"
    assert "reason: JobTimedOut" in body
    assert "the job was still running" in body
    _, unknown = _message(RunState(), succeeded=False, execution_arn=EXECUTION_ARN, log_group=None)
    assert "reason: Unknown" in unknown


def test_hostile_text_is_escaped_not_a_crash() -> None:
    """A dataset line `{"\\ud800": "x"}` puts a lone surrogate into the error; SNS needs UTF-8."""
    cause = json.dumps({"errorMessage": "train.jsonl:1: unknown_field: field '\ud800' is not allowed"})
    state = _run_state(
        error={"Error": "DatasetInvalid", "Cause": cause}, recipe=recipe_summary(job_name="j\ud800\nx\x00")
    )
    subject, body = _message(state, succeeded=False, execution_arn=EXECUTION_ARN, log_group=None)
    body.encode("utf-8")
    subject.encode("utf-8")
    assert "field '\\ud800' is not allowed" in body
    assert subject == "Nova CPT FAILED: j\\ud800?x?"


def test_subject_is_at_most_100_characters() -> None:
    state = _run_state(recipe=recipe_summary(job_name="j" * 300))
    subject, _ = _message(state, succeeded=True, execution_arn=EXECUTION_ARN, log_group=None)
    assert len(subject) == SUBJECT_MAX


# --------------------------------------------------------------------------- handlers


def _s3_event(bucket: str, key: str, version: str | None = "v1") -> dict[str, Any]:
    """An S3 Object Created event as EventBridge delivers it."""
    return object_created_event(bucket, key, version, account=ACCOUNT, region=REGION)


@pytest.fixture
def state_machine(world: World, monkeypatch: pytest.MonkeyPatch) -> str:
    client = boto3.client("stepfunctions", region_name=REGION)
    arn: str = client.create_state_machine(
        name="NovaCptRun",
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}),
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/run",
    )["stateMachineArn"]
    monkeypatch.setenv("STATE_MACHINE_ARN", arn)
    monkeypatch.setenv("DROP_BUCKET", DATA)
    return arn


def _executions(arn: str) -> list[dict[str, Any]]:
    executions: list[dict[str, Any]] = boto3.client("stepfunctions", region_name=REGION).list_executions(
        stateMachineArn=arn
    )["executions"]
    return executions


def test_trigger_starts_one_named_execution_per_recipe_version(state_machine: str, ctx: FakeLambdaContext) -> None:
    from lambdas import trigger

    result = trigger.handler(_s3_event(DATA, "jobs/j1/recipe.yaml", "v1"), ctx)
    name = execution_name(DATA, "jobs/j1/recipe.yaml", "v1")
    assert result["started"] is True
    assert result["execution_name"] == name
    (execution,) = _executions(state_machine)
    assert execution["name"] == name
    assert execution["executionArn"] == result["execution_arn"]
    described = boto3.client("stepfunctions", region_name=REGION).describe_execution(
        executionArn=execution["executionArn"]
    )
    assert json.loads(described["input"]) == {
        "recipe_s3_uri": f"s3://{DATA}/jobs/j1/recipe.yaml",
        "overrides": {},
        "source_version_id": "v1",
    }


def test_trigger_repeated_event_starts_nothing_new(state_machine: str, ctx: FakeLambdaContext) -> None:
    from lambdas import trigger

    event = _s3_event(DATA, "jobs/j1/recipe.yaml", "v1")
    first = trigger.handler(event, ctx)
    # While the first execution runs, Step Functions answers a same-name, same-input start with it.
    again = trigger.handler(event, ctx)
    assert again["execution_arn"] == first["execution_arn"]  # the running execution, not a second one
    assert len(_executions(state_machine)) == 1
    # Once it has finished, the same name is refused: ExecutionAlreadyExists, nothing started.
    boto3.client("stepfunctions", region_name=REGION).stop_execution(executionArn=first["execution_arn"])
    repeated = trigger.handler(event, ctx)
    assert repeated == {"started": False, "reason": "already started", "execution_name": first["execution_name"]}
    assert len(_executions(state_machine)) == 1
    # A new upload of the recipe (a new version) is a new run.
    assert trigger.handler(_s3_event(DATA, "jobs/j1/recipe.yaml", "v2"), ctx)["started"] is True
    assert len(_executions(state_machine)) == 2


@pytest.mark.parametrize(
    ("field", "value"),
    [("source", "aws.s3.fake"), ("detail-type", "Object Deleted"), ("bucket", "someone-elses-bucket")],
)
def test_trigger_checks_source_detail_type_and_bucket_again(
    state_machine: str, ctx: FakeLambdaContext, field: str, value: str
) -> None:
    """The rule filters these already; an event that slips past it (or a direct invocation) starts nothing."""
    from lambdas import trigger

    event = _s3_event(DATA, "jobs/j1/recipe.yaml", "v1")
    if field == "bucket":
        event["detail"]["bucket"]["name"] = value
    else:
        event[field] = value
    result = trigger.handler(event, ctx)
    assert result == {"started": False, "reason": "not an S3 Object Created event of the data bucket"}
    assert _executions(state_machine) == []


@pytest.mark.parametrize(
    "key",
    [
        "jobs/j1/train.jsonl",
        "jobs/j1/sub/recipe.yaml",
        "jobs/recipe.yaml",
        "recipe.yaml",
        "other/j1/recipe.yaml",
        "jobs/j1/recipe.yaml.bak",
        "jobs/.hidden/recipe.yaml",
    ],
)
def test_trigger_ignores_other_keys(state_machine: str, ctx: FakeLambdaContext, key: str) -> None:
    from lambdas import trigger

    assert drop_job(key) is None
    result = trigger.handler(_s3_event(DATA, key), ctx)
    assert result == {"started": False, "reason": "not a recipe drop", "key": key}
    assert _executions(state_machine) == []


def test_validate_recipe_handler_reads_the_execution_input(world: World, ctx: FakeLambdaContext) -> None:
    from lambdas import validate_recipe

    uri = world.drop("j1")
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    version = world.client.head_object(Bucket=bucket, Key=key)["VersionId"]
    event = {"input": {"recipe_s3_uri": uri, "overrides": {}, "source_version_id": version}, "execution_name": RUN_ID}
    summary = validate_recipe.handler(event, ctx)
    assert summary["run_id"] == RUN_ID and summary["source_version_id"] == version
    assert summary["resolved_uri"] == f"s3://{ARCHIVE}/runs/{RUN_ID}/recipe.yaml"


def test_validate_recipe_reads_the_version_the_event_names(world: World, ctx: FakeLambdaContext) -> None:
    """Recipe v1 then v2 uploaded: the execution of v1's event validates (and archives) v1, not the latest."""
    from lambdas import validate_recipe

    uri = world.drop("j1")
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    v1 = world.client.head_object(Bucket=bucket, Key=key)["VersionId"]
    v1_text = world.client.get_object(Bucket=bucket, Key=key)["Body"].read()
    world.client.put_object(Bucket=bucket, Key=key, Body=v1_text.replace(b"replicas: 8 ", b"replicas: 4 "))
    event = {"input": {"recipe_s3_uri": uri, "source_version_id": v1}, "execution_name": RUN_ID}
    assert validate_recipe.handler(event, ctx)["replicas"] == 8
    latest = {"input": {"recipe_s3_uri": uri}, "execution_name": RUN_ID}
    assert validate_recipe.handler(latest, ctx)["replicas"] == 4
    missing = {"input": {"recipe_s3_uri": uri, "source_version_id": "no-such-version"}, "execution_name": RUN_ID}
    with pytest.raises(RecipeInvalid, match="NoSuchVersion"):
        validate_recipe.handler(missing, ctx)


def _validate_datasets_by_handlers(recipe: dict[str, Any], ctx: FakeLambdaContext) -> list[dict[str, Any]]:
    """PlanValidation -> ValidateShards -> CountDuplicates -> MergeReports, with the state machine's payloads."""
    from lambdas import validate_dataset

    plan = validate_dataset.plan({"recipe": recipe}, ctx)
    shards = [validate_dataset.shard(item, ctx) for item in plan["shards"]]
    duplicates = [
        validate_dataset.duplicates(
            {"run_id": p["run_id"], "role": p["role"], "partition": p["partition"], "shards": shards}, ctx
        )
        for p in plan["partitions"]
    ]
    merged: list[dict[str, Any]] = validate_dataset.merge(
        {"plan": plan, "shards": shards, "duplicates": duplicates}, ctx
    )
    return merged


def test_validate_dataset_handlers_validate_every_shard(
    world: World, ctx: FakeLambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHARD_BYTES", str(len(TRAIN) // 3))  # several shards of one small file
    world.drop("j1", validation=VALIDATION)
    recipe = _recipe_step(world, f"s3://{DATA}/jobs/j1/recipe.yaml")
    summaries = _validate_datasets_by_handlers(recipe, ctx)
    assert [(d["role"], d["records"]) for d in summaries] == [("train", 300), ("validation", 40)]
    assert summaries[0]["shards"] >= 3
    assert all(key.startswith(f"runs/{RUN_ID}/") for key in world.keys(ARCHIVE))


def test_validate_dataset_handlers_raise_dataset_invalid(
    world: World, ctx: FakeLambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = TRAIN.splitlines(keepends=True)
    body = b"".join([*lines[:150], b"\n", *lines[150:]])  # line 151 is empty, in the third of five shards
    monkeypatch.setenv("SHARD_BYTES", str(len(body) // 5))
    world.drop("j1", train=body)
    recipe = _recipe_step(world, f"s3://{DATA}/jobs/j1/recipe.yaml")
    with pytest.raises(DatasetInvalid) as info:
        _validate_datasets_by_handlers(recipe, ctx)
    assert f"s3://{DATA}/jobs/j1/train.jsonl:151: empty_line" in str(info.value)
    assert "(empty_line: 1)" in str(info.value)


def test_estimate_handler_applies_the_configured_budget(
    aws_env: None, ctx: FakeLambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lambdas import estimate

    event = {
        "recipe": _summary().model_dump(mode="json"),
        "datasets": [d.model_dump(mode="json") for d in DATASETS],
    }
    assert estimate.handler(event, ctx)["cost_usd"] is None
    monkeypatch.setenv("PRICE_PER_INSTANCE_HOUR", "98.32")
    assert estimate.handler(event, ctx)["cost_usd"] is not None
    monkeypatch.setenv("BUDGET_INSTANCE_HOURS", "0.5")
    with pytest.raises(BudgetExceeded):
        estimate.handler(event, ctx)


def test_job_handlers_with_the_scripted_cluster(
    aws_env: None, ctx: FakeLambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lambdas import job

    cluster = ScriptedCluster(["RUNNING", "SUCCEEDED"])  # one cluster: what SubmitJob started, PollJob follows
    monkeypatch.setattr(runtime, "cluster_factory", lambda: cluster)
    monkeypatch.setenv("POLL_INTERVAL_SECONDS", "300")
    monkeypatch.setenv("MAX_POLL_SECONDS", "259200.0")
    submitted = job.submit({"recipe": recipe_summary(job_name=JOB).model_dump(mode="json")}, ctx)
    assert submitted["job_name"] == JOB
    first = job.poll({"job": submitted, "attempt": 0}, ctx)
    assert (first["state"], first["attempt"], first["interval_seconds"], first["timed_out"]) == (
        "RUNNING",
        1,
        300,
        False,
    )
    assert job.poll({"job": submitted, "attempt": 1}, ctx)["state"] == "SUCCEEDED"
    assert job.cancel({"state": {"job": submitted}}, ctx) == {"cancelled": JOB}
    assert cluster.cancelled == [JOB] and cluster.jobs == {}
    assert job.cancel({"state": {"recipe_s3_uri": "s3://x/y"}}, ctx) == {"cancelled": None}
    assert cluster.cancelled == [JOB] and cluster.unknown_cancels == []  # nothing was started: nothing to cancel


def test_notify_handler_publishes_to_the_topic(
    world: World, ctx: FakeLambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lambdas import notify

    sns = boto3.client("sns", region_name=REGION)
    topic = sns.create_topic(Name="runs")["TopicArn"]
    monkeypatch.setenv("TOPIC_ARN", topic)
    state = _run_state().model_dump(mode="json")
    result = notify.handler({"state": state, "succeeded": True, "execution_arn": EXECUTION_ARN}, ctx)
    assert result["subject"] == f"Nova CPT succeeded: {JOB}"
    assert f"job: {JOB}" in result["message"]
    hostile = {"Error": "DatasetInvalid", "Cause": json.dumps({"errorMessage": 'line 1: field "\ud800"'})}
    failed = notify.handler(
        {
            "state": _run_state(error=hostile).model_dump(mode="json"),
            "succeeded": False,
            "execution_arn": EXECUTION_ARN,
        },
        ctx,
    )
    assert 'field "\\ud800"' in failed["message"]


# --------------------------------------------------------------------------- naming and errors


_keys = st.one_of(
    st.builds(lambda job: f"jobs/{job}/recipe.yaml", st.text(min_size=1, max_size=200)),
    st.text(max_size=300),
)


@settings(max_examples=300, deadline=None)
@given(
    bucket=st.text(min_size=1, max_size=63),
    key=_keys,
    version=st.one_of(st.none(), st.text(max_size=100)),
)
def test_execution_name_is_deterministic_short_and_valid(bucket: str, key: str, version: str | None) -> None:
    name = execution_name(bucket, key, version)
    assert name == execution_name(bucket, key, version)
    assert 1 <= len(name) <= EXECUTION_NAME_MAX == 80
    assert re.fullmatch(r"[A-Za-z0-9_-]+", name), name


@settings(max_examples=200, deadline=None)
@given(key=_keys, a=st.text(max_size=40), b=st.text(max_size=40))
def test_execution_name_differs_per_object_version(key: str, a: str, b: str) -> None:
    if a != b:
        assert execution_name(DATA, key, a) != execution_name(DATA, key, b)


def test_execution_name_shows_the_job_folder() -> None:
    assert execution_name(DATA, "jobs/pubmed-2026.v1/recipe.yaml", "v1").startswith("pubmed-2026-v1-")


@settings(max_examples=200, deadline=None)
@given(run_name=st.from_regex(r"[a-z][a-z0-9-]{0,80}", fullmatch=True), execution=st.text(max_size=80))
def test_job_name_is_a_dns_label(run_name: str, execution: str) -> None:
    name = job_name(run_name, execution)
    assert len(name) <= JOB_NAME_MAX
    assert len(f"{name}-worker-31") <= 63  # the training operator's per-pod service names fit too
    assert name == job_name(run_name, execution)
    assert re.fullmatch(r"[a-z0-9-]+", name)


def _client_error(code: str, status: int) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Op")


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        (_client_error("Throttling", 400), True),
        (_client_error("ThrottlingException", 400), True),
        (_client_error("TooManyRequestsException", 429), True),
        (_client_error("SlowDown", 503), True),
        (_client_error("RequestTimeout", 400), True),
        (_client_error("InternalError", 500), True),
        (_client_error("SomethingNew", 502), True),
        (_client_error("AccessDenied", 403), False),
        (_client_error("NoSuchKey", 404), False),
        (_client_error("NoSuchBucket", 404), False),
        (_client_error("InvalidRequest", 400), False),
        (EndpointConnectionError(endpoint_url="https://s3.amazonaws.com"), True),
        (ReadTimeoutError(endpoint_url="https://s3.amazonaws.com"), True),
        (ValueError("bad"), False),
        (RecipeInvalid("bad"), False),
    ],
)
def test_is_transient(exc: BaseException, transient: bool) -> None:
    assert is_transient(exc) is transient


def test_transient_s3_errors_become_transient_error() -> None:
    client = boto3.client("s3", region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")
    s3 = S3Access(client, ACCOUNT)
    with Stubber(client) as stub:
        stub.add_client_error("get_object", service_error_code="SlowDown", http_status_code=503)
        with pytest.raises(TransientError, match="temporary S3 error"):
            s3.read(f"s3://{DATA}/jobs/j1/recipe.yaml", max_bytes=10)
        stub.add_client_error("get_object", service_error_code="AccessDenied", http_status_code=403)
        with pytest.raises(PipelineError) as info:
            s3.read(f"s3://{DATA}/jobs/j1/recipe.yaml", max_bytes=10)
        assert not isinstance(info.value, TransientError)
        stub.add_client_error("head_object", service_error_code="500", http_status_code=500)
        with pytest.raises(TransientError):
            s3.head(f"s3://{DATA}/jobs/j1/train.jsonl")


# --------------------------------------------------------------------------- checkpoints to start from


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("s3://attacker-owned-bucket/ckpt/", "customer-escrow"),
        ("s3://customer-escrow-999999999999-x/job/ckpt/", "of this account"),
    ],
)
def test_a_checkpoint_override_must_be_this_accounts(world: World, path: str, expected: str) -> None:
    """A console override of run.model_name_or_path fails, located, before any spend."""
    uri = world.drop("j1")
    with pytest.raises(RecipeInvalid) as info:
        _recipe_step(world, uri, {"run.model_name_or_path": path})
    assert "run.model_name_or_path" in str(info.value) and expected in str(info.value)


def test_this_accounts_checkpoint_or_one_the_archive_recorded_is_accepted(world: World) -> None:
    uri = world.drop("j1")
    for path in (f"s3://customer-escrow-{ACCOUNT}-x/job/ckpt/", "s3://customer-escrow-999999999999-x/job/ckpt/"):
        if ACCOUNT not in path:  # made by this deployment: ArchiveOutputs recorded it
            world.s3.put_json(checkpoint_record_uri(ARCHIVE, path), {"checkpoint": path, "run": "earlier"})
        summary = _recipe_step(world, uri, {"run.model_name_or_path": path})
        assert summary["run_id"] == RUN_ID
