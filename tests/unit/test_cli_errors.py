"""The cpt error boundary: one line and exit 2 for what the user can fix, a log file for a bug, strict JSON."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import typer
from botocore import exceptions as boto
from botocore.exceptions import ClientError
from typer.testing import CliRunner

from novacpt_cli.errors import CliError, GuardedGroup, explain, json_text, regular_file

toy = typer.Typer(cls=GuardedGroup, add_completion=False, pretty_exceptions_enable=False)


@toy.command()
def crash(json_: bool = typer.Option(False, "--json")) -> None:
    raise ZeroDivisionError("boom")


@toy.command()
def region() -> None:
    raise boto.NoRegionError()


@toy.command()
def infinity(json_: bool = typer.Option(False, "--json")) -> None:
    from novacpt_cli.errors import emit_json

    emit_json({"cost": float("inf"), "text": "\ud800"})


def _run(*args: str, tmp_path: Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(toy, list(args), env={"XDG_STATE_HOME": str(tmp_path)})
    return result.exit_code, result.stdout, result.stderr


def test_a_bug_is_one_line_and_a_log_file_with_the_traceback(tmp_path: Path) -> None:
    code, stdout, stderr = _run("crash", tmp_path=tmp_path)
    assert code == 2 and stdout == ""
    (line,) = stderr.strip().splitlines()
    assert "internal error (ZeroDivisionError: boom)" in line and "Traceback" not in stderr
    (log,) = (tmp_path / "cpt" / "logs").iterdir()
    assert str(log) in line and "Traceback" in log.read_text() and "ZeroDivisionError" in log.read_text()


def test_with_json_a_bug_still_gives_one_json_object(tmp_path: Path) -> None:
    code, stdout, _ = _run("crash", "--json", tmp_path=tmp_path)
    assert code == 2
    assert json.loads(stdout)["error"]["kind"] == "internal"


def test_usage_error_with_json_is_one_json_object(tmp_path: Path) -> None:
    code, stdout, stderr = _run("crash", "--json", "--no-such-option", tmp_path=tmp_path)
    assert code == 2 and "--no-such-option" in stderr
    answer = json.loads(stdout)
    assert answer["ok"] is False and answer["exit_code"] == 2 and answer["error"]["kind"] == "usage"


def test_environment_error_is_one_line_exit_2(tmp_path: Path) -> None:
    code, _, stderr = _run("region", tmp_path=tmp_path)
    assert code == 2 and stderr.count("\n") == 1 and "--region" in stderr


def test_json_output_is_strict_and_escapes_lone_surrogates(tmp_path: Path) -> None:
    code, stdout, _ = _run("infinity", "--json", tmp_path=tmp_path)
    assert code == 0
    assert "Infinity" not in stdout
    answer = json.loads(stdout)
    assert answer == {"cost": None, "text": "\ud800"}
    assert json_text({"x": float("nan")}) == '{"x": null}'


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (boto.NoRegionError(), "no AWS region"),
        (boto.NoCredentialsError(), "no AWS credentials"),
        (boto.EndpointConnectionError(endpoint_url="https://x"), "check the network"),
        (
            ClientError(
                {"Error": {"Code": "ValidationError", "Message": "Stack with id NovaCptStorage does not exist"}},
                "DescribeStacks",
            ),
            "make deploy",
        ),
        (ClientError({"Error": {"Code": "ExpiredToken", "Message": "x"}}, "DescribeStacks"), "expired"),
        (FileNotFoundError(2, "No such file or directory", "nosuch.jsonl"), "nosuch.jsonl: No such file"),
        (CliError("said so"), "said so"),
    ],
)
def test_explain_environment_errors(error: BaseException, expected: str) -> None:
    message = explain(error)
    assert message is not None and expected in message and "\n" not in message


def test_a_bug_is_not_explained_away() -> None:
    assert explain(KeyError("x")) is None


def test_regular_file_refuses_directories_fifos_and_devices(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.jsonl"
    os.mkfifo(fifo)
    for path, kind in ((tmp_path, "a directory"), (fifo, "a FIFO"), (Path("/dev/zero"), "a device")):
        with pytest.raises(CliError, match=f"not a regular file \\({kind}"):
            regular_file(path)
    with pytest.raises(CliError, match="no such file"):
        regular_file(tmp_path / "missing.jsonl")
    real = tmp_path / "ok.jsonl"
    real.write_text("{}\n")
    assert regular_file(real) == real
