"""Exit codes of every cpt command (0 valid, 1 invalid, 2 usage or environment), one line, no traceback.

Each command is run with a usage error and, for those that talk to AWS, with no AWS configuration
at all; `--json` keeps stdout one strict JSON object even then.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from novacpt_cli import app
from tests.conftest import ROOT

LITE = str(ROOT / "recipes" / "nova_lite_cpt.yaml")
COMMANDS = {
    "validate-dataset",
    "validate-recipe",
    "plan",
    "estimate",
    "render-job",
    "demo",
    "submit",
    "status",
    "watch",
    "report",
    "runs",
    "logs",
    "doctor",
}
AWS_COMMANDS = {"submit", "status", "watch", "report", "runs", "logs", "doctor"}


@pytest.fixture
def no_aws(tmp_path: Path) -> dict[str, str | None]:
    """An environment with no AWS configuration (and no instance metadata service to ask)."""
    cleared: dict[str, str | None] = {name: None for name in os.environ if name.startswith("AWS_")}
    return cleared | {
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "XDG_STATE_HOME": str(tmp_path / "state"),
    }


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    good = tmp_path / "train.jsonl"
    good.write_text("".join(json.dumps({"text": f"note {i}"}) + "\n" for i in range(20)))
    return {"good": str(good), "dir": str(tmp_path), "missing": str(tmp_path / "nosuch.jsonl")}


def _usage_error(command: str, files: dict[str, str]) -> list[str]:
    """A command line of `command` that is a usage error (a missing, or not regular, file)."""
    return {
        "validate-dataset": [files["dir"]],
        "validate-recipe": [files["missing"]],
        "plan": [LITE, "--dataset", files["missing"]],
        "estimate": [LITE, "--dataset", files["dir"]],
        "render-job": [files["missing"], "--region", "us-east-1", "--account", "123456789012"],
        "demo": ["--data", files["missing"]],
        "submit": ["--recipe", LITE, "--data", files["missing"]],
        "status": ["--no-such-option"],
        "watch": [],
        "report": [],
        "runs": ["extra-argument"],
        "logs": [],
        "doctor": ["--replicas", "0"],
    }[command]


def test_every_command_is_covered() -> None:
    registered = {c.name for c in app.registered_commands}
    assert registered == COMMANDS


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_usage_error_exit_2_one_json_object(command: str, files: dict[str, str], no_aws: dict[str, str | None]) -> None:
    args = [command, *_usage_error(command, files)]
    result = CliRunner().invoke(app, [*args, "--json"], env=no_aws)
    assert result.exit_code == 2, (args, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    answer = json.loads(result.stdout)
    assert answer["ok"] is False and answer["exit_code"] == 2
    assert result.stderr.startswith("cpt: error: ")


@pytest.mark.parametrize("command", sorted(AWS_COMMANDS))
def test_no_aws_configuration_exit_2_one_line(
    command: str, files: dict[str, str], no_aws: dict[str, str | None]
) -> None:
    args = {
        "submit": ["--recipe", LITE, "--data", files["good"]],
        "watch": ["some-run"],
        "report": ["some-run"],
        "logs": ["some-job"],
    }.get(command, [])
    for region in ([], ["--region", "us-east-1"]):
        result = CliRunner().invoke(app, [command, *args, *region], env=no_aws)
        assert result.exit_code == 2, (command, region, result.stderr)
        (line,) = result.stderr.splitlines()
        expected = "no AWS credentials" if region else "no AWS region"
        assert line.startswith("cpt: error: ") and expected in line, line


def test_validate_dataset_and_plan_exit_0_and_1(files: dict[str, str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": 1}\n')
    assert CliRunner().invoke(app, ["validate-dataset", files["good"]]).exit_code == 0
    assert CliRunner().invoke(app, ["validate-dataset", str(bad)]).exit_code == 1
    assert CliRunner().invoke(app, ["plan", LITE, "--dataset", files["good"]]).exit_code == 0
    assert CliRunner().invoke(app, ["plan", LITE, "--dataset", str(bad)]).exit_code == 1


def test_infinite_price_with_json_is_one_strict_object(files: dict[str, str]) -> None:
    for command in ("plan", "estimate"):
        args = [command, LITE, "--dataset", files["good"], "--price-per-instance-hour", "inf", "--json"]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 2
        assert "Infinity" not in result.stdout
        assert json.loads(result.stdout)["error"]["kind"] == "usage"


def test_fifo_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)  # opening it would block forever
    result = CliRunner().invoke(app, ["validate-dataset", str(fifo), "--json"])
    assert result.exit_code == 2
    assert "not a regular file (a FIFO)" in json.loads(result.stdout)["error"]["message"]


def test_lone_surrogate_text_output_does_not_crash(tmp_path: Path) -> None:
    path = tmp_path / "hostile.jsonl"
    path.write_text('{"\\ud800": "x"}\n{"text": "\\ud800"}\n', encoding="utf-8")
    for extra in ([], ["--json"]):
        result = CliRunner().invoke(app, ["validate-dataset", str(path), *extra])
        assert result.exit_code == 1, result.stderr
        assert "Traceback" not in result.stdout + result.stderr
        if extra:
            json.loads(result.stdout)
