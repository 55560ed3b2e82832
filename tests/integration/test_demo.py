"""`cpt demo`: the synthesised pipeline run end to end on this machine, success and every failure path."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
from typer.testing import CliRunner

from novacpt_cli import app
from novacpt_dev.demo.run import ROOT, DemoOutcome, cluster_for, run_demo, synthesize


def _run(assembly: Path, **kwargs: object) -> tuple[DemoOutcome, list[str]]:
    states: list[str] = []
    options = {"data": None, "validation": None, "recipe": None, "fail_job": False, **kwargs}
    return run_demo(on_state=states.append, assembly=assembly, **options), states  # type: ignore[arg-type]


def test_success_archives_a_real_tensorboard_file_and_the_checkpoint(assembly: Path) -> None:
    outcome, states = _run(assembly)
    assert outcome.result.status == "SUCCEEDED", outcome.result.cause
    assert states[:2] == ["JoinQueue", "ValidateRecipe"] and states[-1] == "RunSucceeded"
    record = outcome.run_record
    assert record is not None and record["status"] == "SUCCEEDED"
    assert record["checkpoint"].startswith("s3://customer-escrow-123456789012-demo/")
    assert record["next_run"] == {"run.model_name_or_path": record["checkpoint"]}
    archived = {Path(o["archived"]).name for o in record["outputs"]}
    assert "manifest.json" in archived
    assert any(name.startswith("events.out.tfevents.") for name in archived)
    assert [n["subject"] for n in outcome.notifications] == [f"Nova CPT succeeded: {record['job_name']}"]


def test_tensorboard_event_file_is_a_valid_tfrecord(tmp_path: Path) -> None:
    """The simulated trainer writes what TensorBoard reads: length-prefixed, CRC-framed records."""
    import boto3
    from moto import mock_aws

    from novacpt_dev.demo.trainer import write_training_outputs

    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="out-bucket")
        write_training_outputs(s3, "s3://out-bucket/runs", "job-1", "123456789012", steps=3)
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket="out-bucket")["Contents"]]
        (event_key,) = [k for k in keys if "tfevents" in k]
        data = s3.get_object(Bucket="out-bucket", Key=event_key)["Body"].read()
        manifest = json.loads(s3.get_object(Bucket="out-bucket", Key="runs/job-1/manifest.json")["Body"].read())
    records, offset = 0, 0
    while offset < len(data):
        (length,) = struct.unpack("<Q", data[offset : offset + 8])
        offset += 12 + length + 4  # length, its CRC, the record, its CRC
        records += 1
    # The file version record, then three scalars a step (loss, learning rate, throughput; validation every 50).
    assert offset == len(data) and records == 1 + 3 * 3
    assert manifest["checkpoint_s3_bucket"].endswith("/job-1/checkpoints/final/")


def test_bad_dataset_names_the_lines_and_submits_nothing(assembly: Path, tmp_path: Path) -> None:
    bad = tmp_path / "train.jsonl"
    bad.write_text('{"text": "fine"}\n\n{"text": 5}\n')
    outcome, states = _run(assembly, data=bad)
    assert outcome.result.status == "FAILED" and outcome.result.error == "DatasetInvalid"
    assert "train.jsonl:2: empty_line" in (outcome.result.cause or "")
    assert "train.jsonl:3: text_not_string" in (outcome.result.cause or "")
    assert "SubmitJob" not in states and "PrepareCapacity" not in states


def test_bad_recipe_fails_before_the_data(assembly: Path, tmp_path: Path) -> None:
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text((ROOT / "recipes" / "nova_lite_cpt.yaml").read_text().replace("replicas: 16", "replicas: 12"))
    outcome, states = _run(assembly, recipe=recipe)
    assert outcome.result.error == "RecipeInvalid"
    assert "run.replicas" in (outcome.result.cause or "")
    assert "ValidateShards" not in states


def test_failed_job_is_reported_with_its_reason_and_capacity_released(assembly: Path) -> None:
    outcome, states = _run(assembly, fail_job=True)
    assert outcome.result.error == "JobFailed"
    assert "NCCL watchdog timeout" in (outcome.result.cause or "")
    assert "/aws/sagemaker/Clusters/" in (outcome.result.cause or "")
    assert "ReleaseCapacityOnFailure" in states and "CancelJobOnFailure" in states
    assert outcome.run_record is not None and outcome.run_record["status"] == "FAILED"


def test_demo_out_writes_the_report(assembly: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("novacpt_dev.demo.run.synthesize", lambda *_: assembly)  # synthesised once per session
    out = tmp_path / "report"
    result = CliRunner().invoke(app, ["demo", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert f"report: {out / 'report.html'}" in result.stdout
    assert {"report.html", "loss.png", "throughput.png", "hours.png", "lengths.png"} <= {p.name for p in out.iterdir()}
    page = (out / "report.html").read_text()
    assert "SUCCEEDED" in page and "customer-escrow-123456789012-demo" in page and "<h2>Loss</h2>" in page


def test_cli_exit_codes(tmp_path: Path) -> None:
    bad = tmp_path / "train.jsonl"
    bad.write_text("not json\n")
    result = CliRunner().invoke(app, ["demo", "--data", str(bad)])
    assert result.exit_code == 1
    assert "train.jsonl:1: invalid_json" in result.output


def test_a_2_0_recipe_configures_the_emulated_cluster_and_runs(tmp_path: Path) -> None:
    recipe = ROOT / "recipes" / "nova_lite_2_cpt.yaml"
    assert cluster_for(recipe) == {"model": "lite-2", "max_replicas": 8}
    assembly = synthesize(tmp_path / "cdk.out", cluster_for(recipe))
    outcome, states = _run(assembly, recipe=recipe)
    assert outcome.result.status == "SUCCEEDED", outcome.result.cause
    assert "Estimate" in states and "SubmitJob" in states
    record = outcome.run_record
    assert record is not None and record["estimate"]["generation"] == "2.0"
    assert record["estimate"]["steps"] == 1000 and record["estimate"]["model"] == "lite-2"
    assert "too_many_passes" in {w["code"] for w in record["estimate"]["warnings"]}  # the sample is small


@pytest.mark.parametrize(
    ("stuck", "container", "cause"),
    [("image-pull", "pytorch", "Back-off pulling image"), ("init-crash", "init-container", "CrashLoopBackOff")],
)
def test_a_stuck_job_is_cancelled_after_max_stuck_minutes_and_capacity_released(
    assembly: Path, stuck: str, container: str, cause: str
) -> None:
    """Pods that never get going (each poll ten simulated minutes later): cancelled once past 30 minutes."""
    outcome, states = _run(assembly, stuck_job=stuck)
    assert outcome.result.status == "FAILED" and outcome.result.error == "JobStuck", outcome.result.cause
    message = outcome.result.cause or ""
    assert "max_stuck_minutes 30" in message and f"-master-0 container {container}: " in message
    assert cause in message or (stuck == "image-pull" and "ErrImagePull" in message)
    assert "logs: CloudWatch log group /aws/sagemaker/Clusters/nova-cpt-demo/" in message
    polls = states.count("PollJob")
    assert 3 <= polls <= 4, states  # 10, 20, 30 minutes: still within the limit; 40: cancelled
    assert "CancelJobOnFailure" in states and "ReleaseCapacityOnFailure" in states
    (notification,) = outcome.notifications
    assert "JobStuck" in notification["message"] and f"container {container}" in notification["message"]
    assert outcome.run_record is not None and outcome.run_record["status"] == "FAILED"


def test_a_quota_too_small_for_the_replicas_stops_the_run_before_any_scale_up(assembly: Path) -> None:
    outcome, states = _run(assembly, p5_quota=8)  # the Lite recipe asks for 16
    assert outcome.result.error == "PreflightFailed", outcome.result.cause
    lines = json.loads(outcome.result.cause or "{}")["errorMessage"].splitlines()  # one line per failed check
    assert lines[0] == "1 check(s) failed before any capacity was asked for:"
    assert any(
        line.startswith("quota: 'ml.p5.48xlarge for cluster usage' is 8, the run needs 16; request") for line in lines
    )
    assert "PrepareCapacity" not in states and "SubmitJob" not in states
    assert states[states.index("Preflight") + 1] == "CancelJobOnFailure"
    (notification,) = outcome.notifications
    assert "PreflightFailed" in notification["message"]


def test_two_runs_dropped_at_once_take_turns_on_the_cluster(assembly: Path) -> None:
    """`cpt demo --runs 2`: the second waits in line while the first holds the lease, then runs."""
    outcome, lines = _run(assembly, runs=2)
    (second,) = outcome.others
    assert outcome.result.status == second.status == "SUCCEEDED"
    first_name, second_name = outcome.result.arn.rsplit(":", 1)[-1], second.arn.rsplit(":", 1)[-1]
    held = next(i for i, line in enumerate(lines) if line.startswith(f"cluster: lease held by {first_name} (held)"))
    assert f"in line: 1. {second_name}" in lines[held]
    waited = lines.index(f"{second_name}: WaitInLine")
    prepared = lines.index(f"{second_name}: PrepareCapacity")
    first_done = lines.index(f"{first_name}: RunSucceeded")
    assert waited < first_done < prepared  # it scaled nothing until the first run had ended and released
