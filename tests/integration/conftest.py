"""Fixtures of the integration suite: the app synthesised once, and an emulated deployment per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from novacpt_dev.demo.run import synthesize
from novacpt_dev.emulator.deployment import deploy
from novacpt_dev.emulator.invoke import handlers_in_process
from novacpt_dev.emulator.template import Templates
from novacpt_dev.hyperpod_fake import FakeHyperPod, hyperpod_installed
from tests import aws_calls
from tests.integration.emulated import ACCOUNT, REGION, Pipeline
from tests.permissions import unauthorised_calls


@pytest.fixture(scope="session")
def assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The app synthesised once (without Lambda bundling: the handlers run from this checkout)."""
    return synthesize(tmp_path_factory.mktemp("cdk.out"))


@pytest.fixture
def pipeline(assembly: Path, aws_contract: aws_calls.Recorder) -> Iterator[Pipeline]:
    """The synthesised app deployed in moto, its handlers run in process, the stateful HyperPod fake installed.

    Afterwards, every AWS call a function made must be allowed by that function's synthesised IAM role.
    """
    knobs = {"POLL_INTERVAL_SECONDS": "0", "FAKE_JOB_STATES": "RUNNING,SUCCEEDED"}
    with (
        mock_aws(config={"stepfunctions": {"execute_state_machine": True}}),
        hyperpod_installed(FakeHyperPod(region=REGION, account=ACCOUNT)) as cluster,
    ):
        templates = Templates.from_dir(assembly, account=ACCOUNT, region=REGION)
        local = deploy(templates)
        with handlers_in_process(env=lambda _: knobs, around=aws_contract.in_function) as calls:
            yield Pipeline(local, calls, knobs, boto3.client("s3", region_name=REGION), cluster)
    problems = unauthorised_calls(templates, aws_contract.calls)
    if problems:
        pytest.fail("calls the synthesised IAM roles do not allow:\n  " + "\n  ".join(problems), pytrace=False)
