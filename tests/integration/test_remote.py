"""`cpt submit`, `status`, `runs` against moto: the deployed stacks' outputs, resumable uploads."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from typer.testing import CliRunner

from novacpt.naming import execution_name
from novacpt.run_report import report_data
from novacpt_cli import app, upload
from novacpt_cli.deployed import NotDeployed, find_deployment
from novacpt_cli.remote import _job_health
from tests.aws_calls import Recorder
from tests.conftest import ROOT

REGION = "us-east-1"
BUCKETS = {"DataBucketName": "drop-bucket", "OutputBucketName": "out-bucket", "ArchiveBucketName": "archive-bucket"}
runner = CliRunner()


def _stack(cloudformation: Any, name: str, outputs: dict[str, str]) -> None:
    template = {
        "Resources": {"Nothing": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    cloudformation.create_stack(StackName=name, TemplateBody=json.dumps(template))


@pytest.fixture
def deployed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[dict[str, Any]]:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        for bucket in BUCKETS.values():
            s3.create_bucket(Bucket=bucket)
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        sfn = boto3.client("stepfunctions", region_name=REGION)
        machine = sfn.create_state_machine(
            name="run",
            definition=json.dumps({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}),
            roleArn="arn:aws:iam::123456789012:role/x",
        )["stateMachineArn"]
        cloudformation = boto3.client("cloudformation", region_name=REGION)
        _stack(cloudformation, "NovaCptStorage", BUCKETS)
        _stack(cloudformation, "NovaCptPipeline", {"StateMachineArn": machine})
        yield {"s3": s3, "sfn": sfn, "machine": machine}


def _train(tmp_path: Path, lines: int = 300) -> Path:
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps({"text": f"note {i} on dosage"}) + "\n" for i in range(lines)))
    return path


def test_deployment_is_found_from_stack_outputs(deployed: dict[str, Any]) -> None:
    found = find_deployment()
    assert (found.data_bucket, found.archive_bucket) == ("drop-bucket", "archive-bucket")
    assert found.state_machine_arn == deployed["machine"]
    with pytest.raises(NotDeployed, match="stack Missing is not deployed in us-east-1"):
        find_deployment(pipeline_stack="Missing")


_COMPLETES_AN_OBJECT = {"PutObject", "CompleteMultipartUpload", "CopyObject"}


def test_submit_uploads_data_then_recipe_and_names_the_execution(
    deployed: dict[str, Any], tmp_path: Path, aws_contract: Recorder
) -> None:
    recipe = ROOT / "recipes" / "nova_micro_cpt.yaml"
    result = runner.invoke(app, ["submit", "--recipe", str(recipe), "--data", str(_train(tmp_path)), "--job", "trial"])
    assert result.exit_code == 0, result.output
    s3 = deployed["s3"]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="drop-bucket")["Contents"]]
    assert sorted(keys) == ["jobs/trial/recipe.yaml", "jobs/trial/train.jsonl"]
    version = s3.head_object(Bucket="drop-bucket", Key="jobs/trial/recipe.yaml")["VersionId"]
    assert execution_name("drop-bucket", "jobs/trial/recipe.yaml", version) in result.output
    # The recipe, which starts the run, is written last: after the data's upload has completed.
    writes = [c.params["Key"] for c in aws_contract.calls if c.caller and c.operation in _COMPLETES_AN_OBJECT]
    assert writes == ["jobs/trial/train.jsonl", "jobs/trial/recipe.yaml"]


def test_submit_stops_on_a_bad_dataset_and_uploads_nothing(deployed: dict[str, Any], tmp_path: Path) -> None:
    bad = tmp_path / "train.jsonl"
    bad.write_text('{"text": "ok"}\n\n')
    recipe = ROOT / "recipes" / "nova_micro_cpt.yaml"
    result = runner.invoke(app, ["submit", "--recipe", str(recipe), "--data", str(bad)])
    assert result.exit_code == 1
    assert "train.jsonl:2: empty_line" in result.output
    assert "Contents" not in deployed["s3"].list_objects_v2(Bucket="drop-bucket")


def test_submit_refuses_a_recipe_with_its_own_data_path(deployed: dict[str, Any], tmp_path: Path) -> None:
    recipe = tmp_path / "recipe.yaml"
    text = (ROOT / "recipes" / "nova_micro_cpt.yaml").read_text()
    recipe.write_text(text.replace('data_s3_path: ""', 'data_s3_path: "s3://drop-bucket/x/train.jsonl"'))
    result = runner.invoke(app, ["submit", "--recipe", str(recipe), "--data", str(_train(tmp_path))])
    assert result.exit_code == 2
    assert "leave run.data_s3_path" in result.output


def test_interrupted_upload_resumes_without_resending_parts(
    deployed: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(upload, "SMALL_BYTES", 1)
    part = 5 << 20  # S3's smallest part
    path = tmp_path / "big.jsonl"
    path.write_bytes(b'{"text": "x"}\n' * ((3 * part) // 14 + 1000))
    s3 = find_deployment().client("s3")  # as `cpt submit` makes it
    sent: list[int] = []
    real_upload_part = s3.upload_part

    def counting_upload_part(**kwargs: Any) -> Any:
        sent.append(kwargs["PartNumber"])
        return real_upload_part(**kwargs)

    monkeypatch.setattr(s3, "upload_part", counting_upload_part)

    def fail_after_two_parts(done: int) -> None:
        if done >= 2 * part:
            raise ConnectionError("network dropped")

    with pytest.raises(ConnectionError):
        upload.upload_file(
            s3, path, "drop-bucket", "jobs/big/train.jsonl", part_bytes=part, progress=fail_after_two_parts
        )
    assert sent == [1, 2]
    assert list(upload.state_dir().glob("*.json"))  # the unfinished upload is remembered
    upload.upload_file(s3, path, "drop-bucket", "jobs/big/train.jsonl", part_bytes=part)
    assert sent == [1, 2, 3, 4]
    body = s3.get_object(Bucket="drop-bucket", Key="jobs/big/train.jsonl")["Body"].read()
    assert body == path.read_bytes()
    assert not list(upload.state_dir().glob("*.json"))


def test_status_and_runs_tables(deployed: dict[str, Any]) -> None:
    deployed["sfn"].start_execution(stateMachineArn=deployed["machine"], name="trial-abc")
    record = {
        "run_id": "trial-abc",
        "status": "SUCCEEDED",
        "job_name": "nova-micro-cpt-1234abcd",
        "checkpoint": "s3://customer-escrow-1/ckpt/",
        "timings": {"archived_at": "2026-11-28T01:00:00"},
    }
    deployed["s3"].put_object(Bucket="archive-bucket", Key="runs/trial-abc/run.json", Body=json.dumps(record))
    deployed["s3"].put_object(Bucket="archive-bucket", Key="runs/in-progress/recipe.yaml", Body=b"x")
    status = runner.invoke(app, ["status", "trial"])
    assert status.exit_code == 0 and "trial-abc" in status.output
    runs = runner.invoke(app, ["runs"])
    assert runs.exit_code == 0, runs.output
    assert runs.output.splitlines()[1].split("\t") == [
        "trial-abc",
        "SUCCEEDED",
        "nova-micro-cpt-1234abcd",
        "s3://customer-escrow-1/ckpt/",
        "2026-11-28T01:00:00",
    ]
    assert "in-progress" not in runs.output


def test_status_and_runs_show_the_lease_and_the_runs_in_line(deployed: dict[str, Any]) -> None:
    from novacpt.adapters.lease import LeaseTable, QueueEntry
    from tests.integration.test_lease import create_table

    client = boto3.client("dynamodb", region_name=REGION)
    create_table(client, "lease-table")
    cloudformation = boto3.client("cloudformation", region_name=REGION)
    cloudformation.delete_stack(StackName="NovaCptStorage")
    _stack(cloudformation, "NovaCptStorage", {**BUCKETS, "LeaseTableName": "lease-table"})
    table = LeaseTable(client, "lease-table", "nova-cpt/nova-p5")
    arns = {}
    for minute, name in enumerate(("team-a-run", "team-b-run", "team-c-run")):
        arns[name] = deployed["sfn"].start_execution(stateMachineArn=deployed["machine"], name=name)["executionArn"]
        table.join(QueueEntry(name, arns[name], f"2026-11-30T02:0{minute}:00Z", 16))
    owner = QueueEntry("team-a-run", arns["team-a-run"], "2026-11-30T02:00:00Z", 16)
    assert table.try_acquire(
        owner, job_name="nova-lite-cpt-1a2b3c4d", now=datetime(2026, 11, 30, 2, 5, tzinfo=UTC)
    ).acquired
    status = runner.invoke(app, ["status"])
    assert status.exit_code == 0, status.output
    lines = status.output.splitlines()
    places = {line.split("\t")[0]: line.split("\t")[-1] for line in lines[1:4]}
    assert places == {"team-a-run": "owner", "team-b-run": "in line 1", "team-c-run": "in line 2"}
    assert (
        "cluster nova-cpt/nova-p5: held by run team-a-run (job nova-lite-cpt-1a2b3c4d on 16 instances, "
        "since 2026-11-30T02:05:00.000000Z), lease held"
    ) in lines
    assert "  in line 1: team-b-run (since 2026-11-30T02:01:00Z)" in lines
    as_json = json.loads(runner.invoke(app, ["status", "--json"]).stdout)
    (cluster,) = as_json["cluster"]
    assert cluster["lease"]["owner"] == "team-a-run" and [q["run"] for q in cluster["queue"]] == [
        "team-b-run",
        "team-c-run",
    ]
    runs = runner.invoke(app, ["runs"])
    assert runs.output.splitlines()[1:3] == ["team-b-run\tIN LINE 1\t\t\t", "team-c-run\tIN LINE 2\t\t\t"]


def test_commands_say_when_nothing_is_deployed() -> None:
    with mock_aws():
        result = runner.invoke(app, ["runs"])
    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    assert "NovaCptStorage is not deployed in us-east-1" in line and "make deploy" in line


def test_status_shows_a_running_jobs_restarts_and_stuck_pod(deployed: dict[str, Any]) -> None:
    """The last PollJob output of a running execution gives its restarts and its longest-stuck pod."""
    poll = {"state": "RUNNING", "restarts": 6, "stuck": "pod j-master-0 container pytorch: CrashLoopBackOff"}
    exited = {"name": "PollJob", "output": json.dumps({"job": {}, "poll": poll})}
    events = [{"stateEnteredEventDetails": {"name": "WaitForJob"}}, {"stateExitedEventDetails": exited}]

    class History:
        def get_execution_history(self, **kwargs: Any) -> dict[str, Any]:
            assert kwargs["reverseOrder"] is True
            return {"events": events}

    running = {"status": "RUNNING", "executionArn": "arn:x"}
    assert _job_health(History(), running) == ("6", poll["stuck"])
    assert _job_health(History(), {**running, "status": "SUCCEEDED"}) == ("", "")
    deployed["sfn"].start_execution(stateMachineArn=deployed["machine"], name="trial-run")
    status = runner.invoke(app, ["status", "trial"])
    assert status.exit_code == 0, status.output
    assert status.output.splitlines()[0].split("\t") == [
        "execution",
        "status",
        "started",
        "stopped",
        "restarts",
        "stuck",
        "cluster",
    ]


# --------------------------------------------------------------------------- one run: status, watch, report

JOB = "pharma-cpt-0123abcd"
RUN_STATE = {
    "recipe": {
        "run_id": "pharma-1",
        "job_name": JOB,
        "output_s3_path": "s3://out-bucket/pharma",
        "global_batch_size": 256,
        "max_length": 8192,
        "max_epochs": 1,
    },
    "estimate": {"samples": 102_400, "hours": 4.0},
}


def _tensorboard(s3: Any, bucket: str, prefix: str, tmp_path: Path, steps: int) -> None:
    from novacpt_dev.demo.trainer import simulated_curves

    tensorboardx = pytest.importorskip("tensorboardX", reason="the demo extra writes event files")
    writer = tensorboardx.SummaryWriter(logdir=str(tmp_path / "tb"))
    for tag, points in simulated_curves(steps).items():
        for step, value, wall in points:
            writer.add_scalar(tag, value, step, walltime=wall)
    writer.close()
    for event_file in (tmp_path / "tb").iterdir():
        s3.put_object(Bucket=bucket, Key=f"{prefix}tensorboard/{event_file.name}", Body=event_file.read_bytes())


def _states(monkeypatch: pytest.MonkeyPatch, *statuses: str) -> None:
    """The execution's history as the pipeline leaves it: RUNNING in PollJob with the recipe's summary."""
    answers = iter(statuses)

    def fake(sfn: Any, arn: str) -> dict[str, Any]:
        status = next(answers)
        return {"status": status, "state": "PollJob", "started": "t0", "stopped": None, "document": RUN_STATE}

    monkeypatch.setattr("novacpt_cli.observe.execution_state", fake)
    monkeypatch.setattr("novacpt_cli.observe.sleep", lambda _: None)


def test_status_of_one_run_shows_step_loss_throughput_and_eta(
    deployed: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    deployed["sfn"].start_execution(stateMachineArn=deployed["machine"], name="pharma-1")
    _tensorboard(deployed["s3"], "out-bucket", f"pharma/{JOB}/", tmp_path, steps=100)
    _states(monkeypatch, "RUNNING", "RUNNING")
    result = runner.invoke(app, ["status", "pharma-1", "--json"])
    assert result.exit_code == 0, result.stderr
    snapshot = json.loads(result.stdout)
    assert (snapshot["status"], snapshot["state"], snapshot["step"], snapshot["total_steps"]) == (
        "RUNNING",
        "PollJob",
        100,
        400,  # 102,400 records x 1 epoch / 256
    )
    assert 1.4 < snapshot["loss"] < 2.2 and 50_000 < snapshot["tokens_per_second"] < 65_000
    assert snapshot["eta_seconds"] == pytest.approx(300 * snapshot["seconds_per_step"], rel=0.01)
    text = runner.invoke(app, ["status", "pharma-1"])
    assert "step 100/400" in text.stdout and "tokens/s" in text.stdout and "ETA 3h" in text.stdout


def test_watch_follows_the_run_until_it_ends(
    deployed: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _tensorboard(deployed["s3"], "out-bucket", f"pharma/{JOB}/", tmp_path, steps=50)
    _states(monkeypatch, "RUNNING", "RUNNING", "FAILED")
    result = runner.invoke(app, ["watch", "pharma-1", "--interval", "5"])
    assert result.exit_code == 1  # the run failed
    lines = result.stdout.splitlines()
    assert len(lines) == 3 and lines[0].startswith("pharma-1: RUNNING, state PollJob, step 50/400")
    assert lines[-1].startswith("pharma-1: FAILED")


def test_watch_of_an_unknown_run_is_a_usage_error(deployed: dict[str, Any]) -> None:
    result = runner.invoke(app, ["watch", "nope", "--json"])
    assert result.exit_code == 2
    assert "no run named 'nope'" in json.loads(result.stdout)["error"]["message"]


def test_report_of_an_archived_run(deployed: dict[str, Any], tmp_path: Path) -> None:
    s3 = deployed["s3"]
    record = {
        "run_id": "pharma-1",
        "status": "SUCCEEDED",
        "job_name": JOB,
        "recipe_as_run": {"content": {"run": {"replicas": 16}, "training_config": {"max_length": 8192}}},
        "estimate": {"hours": 4.0, "instance_hours": 64.0, "cost_usd": 6292.48},
        "actual": {"hours": 4.2, "instance_hours": 67.2},
        "datasets": [{"role": "train", "report_uri": "s3://archive-bucket/runs/pharma-1/reports/train.json"}],
        "checkpoint": "s3://customer-escrow-123456789012-x/final/",
    }
    report = {"stats": {"records": 9, "length_histogram": [{"min_tokens": 8, "max_tokens": 15, "records": 9}]}}
    s3.put_object(Bucket="archive-bucket", Key="runs/pharma-1/run.json", Body=json.dumps(record))
    s3.put_object(Bucket="archive-bucket", Key="runs/pharma-1/reports/train.json", Body=json.dumps(report))
    _tensorboard(s3, "archive-bucket", "runs/pharma-1/outputs/", tmp_path, steps=60)
    out = tmp_path / "report"
    result = runner.invoke(app, ["report", "pharma-1", "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "hours.png",
        "lengths.png",
        "loss.png",
        "report.html",
        "throughput.png",
    ]
    page = (out / "report.html").read_text()
    assert "s3://customer-escrow-123456789012-x/final/" in page
    assert "6,607.10" in page  # 67.2 instance-hours at the estimate's $98.32


def test_report_reads_the_archived_report_json_when_there_is_one(deployed: dict[str, Any], tmp_path: Path) -> None:
    """report.json (written by ArchiveOutputs) is the report; run.json is only read to know the run ended."""
    s3 = deployed["s3"]
    record = {"run_id": "pharma-2", "status": "FAILED", "job_name": "from-run-json", "datasets": []}
    data = report_data({**record, "status": "SUCCEEDED", "job_name": "from-report-json"}, {})
    s3.put_object(Bucket="archive-bucket", Key="runs/pharma-2/run.json", Body=json.dumps(record))
    s3.put_object(Bucket="archive-bucket", Key="runs/pharma-2/report.json", Body=json.dumps(data))
    out = tmp_path / "report"
    result = runner.invoke(app, ["report", "pharma-2", "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    page = (out / "report.html").read_text()
    assert "from-report-json" in page and "SUCCEEDED" in page
    assert "from-run-json" not in page


def test_report_without_report_json_reads_the_dataset_report_version_the_run_recorded(
    deployed: dict[str, Any], tmp_path: Path
) -> None:
    s3 = deployed["s3"]
    key = "runs/pharma-3/reports/train.json"
    first = s3.put_object(Bucket="archive-bucket", Key=key, Body=json.dumps({"stats": {"records": 4242}}))
    s3.put_object(Bucket="archive-bucket", Key=key, Body=json.dumps({"stats": {"records": 1}}))
    dataset = {"role": "train", "report_uri": f"s3://archive-bucket/{key}", "report_version_id": first["VersionId"]}
    record = {"run_id": "pharma-3", "status": "SUCCEEDED", "job_name": JOB, "datasets": [dataset]}
    s3.put_object(Bucket="archive-bucket", Key="runs/pharma-3/run.json", Body=json.dumps(record))
    out = tmp_path / "report"
    assert runner.invoke(app, ["report", "pharma-3", "--out", str(out)]).exit_code == 0
    assert "4,242" in (out / "report.html").read_text()


def test_report_of_a_run_not_archived_yet(deployed: dict[str, Any], tmp_path: Path) -> None:
    result = runner.invoke(app, ["report", "pharma-9", "--out", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert "has no run.json" in result.stderr and "cpt watch pharma-9" in result.stderr
