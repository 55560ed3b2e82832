"""Fixtures of the infrastructure suite: the app synthesised once as `make synth` does (Lambda bundling included)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT

CDK_CLI = ROOT / "node_modules" / ".bin" / "cdk"


def _offline_env() -> dict[str, str]:
    """This environment without AWS credentials, profile, region or CDK_* settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CDK_"))}
    env |= {
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        "AWS_EC2_METADATA_DISABLED": "true",  # no instance-metadata credential probe
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    return env


@dataclass(frozen=True)
class Assembly:
    outdir: Path
    result: subprocess.CompletedProcess[str]

    @property
    def templates(self) -> list[Path]:
        return sorted(self.outdir.rglob("*.template.json"))

    def manifests(self) -> list[dict[str, Any]]:
        return [json.loads(p.read_text()) for p in sorted(self.outdir.rglob("manifest.json"))]


@pytest.fixture(scope="session")
def assembly(tmp_path_factory: pytest.TempPathFactory) -> Assembly:
    """The app synthesised once for the suite, offline, with the Lambda asset bundled."""
    outdir = tmp_path_factory.mktemp("synth") / "cdk.out"
    app_command = f"{sys.executable} app.py"
    if CDK_CLI.exists() and shutil.which("node"):
        command = [str(CDK_CLI), "synth", "--quiet", "--app", app_command, "--output", str(outdir)]
        env = _offline_env()
    else:  # no `npm install`: run the app the way the CLI does (context from cdk.json)
        command = [sys.executable, "app.py"]
        context = json.loads((ROOT / "cdk.json").read_text())["context"]
        env = _offline_env() | {"CDK_OUTDIR": str(outdir), "CDK_CONTEXT_JSON": json.dumps(context)}
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900, check=False)
    return Assembly(outdir, result)
