"""A new user's first commands with no AWS configuration at all: exit 2, at most three lines, no traceback.

The real `cpt` entry point in a subprocess, with every AWS_* variable cleared and HOME an empty folder
(the instance metadata service is switched off so that nothing leaves this machine).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

CPT = Path(sys.executable).with_name("cpt")


@pytest.mark.parametrize(
    "args",
    [
        ["status"],
        ["status", "--region", "us-east-1"],
        ["runs", "--region", "us-east-1"],
        ["demo", "--data", "nosuch.jsonl"],
    ],
    ids=" ".join,
)
def test_first_contact_without_aws_configuration(args: list[str], tmp_path: Path) -> None:
    if not CPT.exists():
        pytest.skip(f"{CPT} is missing: run make setup")
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "XDG_"))}
    env |= {"HOME": str(home), "AWS_EC2_METADATA_DISABLED": "true"}
    result = subprocess.run(
        [str(CPT), *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert 1 <= len(lines) <= 3, result.stderr
    assert "Traceback" not in result.stderr and lines[0].startswith("cpt: error: ")
    if args[0] == "demo":  # the file is checked before the CDK app is synthesised
        assert "nosuch.jsonl" in lines[0]
        assert "synthesising" not in result.stdout  # it stopped before starting the emulated deployment
