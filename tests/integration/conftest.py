"""Fixtures of the integration suite: the app synthesised once, and an emulated deployment per test."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from novacpt_dev.demo.run import synthesize
from novacpt_dev.emulator.deployment import deploy
from novacpt_dev.emulator.invoke import handlers_in_process, scripted_cluster
from novacpt_dev.emulator.template import Templates
from novacpt_dev.fakes import cluster_on_kubernetes
from novacpt_dev.hyperpod_fake import FakeHyperPod, hyperpod_installed
from novacpt_dev.k8s_standin import REFERENCE_CRD, KubernetesStandIn
from tests import aws_calls
from tests.integration.emulated import ACCOUNT, REGION, KubernetesCalls, Pipeline
from tests.permissions import unauthorised_calls, unauthorised_requests


@pytest.fixture(scope="session")
def assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The app synthesised once (without Lambda bundling: the handlers run from this checkout)."""
    return synthesize(tmp_path_factory.mktemp("cdk.out"))


@pytest.fixture
def pipeline(assembly: Path, aws_contract: aws_calls.Recorder) -> Iterator[Pipeline]:
    """The synthesised app deployed in moto, its handlers run in process, the stateful HyperPod fake installed.

    Afterwards, every AWS call a function made must be allowed by that function's synthesised IAM role.
    """
    yield from _deployed(assembly, aws_contract, None)


@pytest.fixture
def kubernetes_pipeline(assembly: Path, aws_contract: aws_calls.Recorder) -> Iterator[Pipeline]:
    """As `pipeline`, but the job functions drive the real Kubernetes job backend against the stand-in API (which
    checks PyTorchJobs against the CRD's schema when the reference CRD is at hand).

    Afterwards, the RBAC the cluster stack installs must also allow every request each function made.
    """
    crd = REFERENCE_CRD if REFERENCE_CRD.is_file() else None
    with KubernetesStandIn(crd=crd) as standin:
        yield from _deployed(assembly, aws_contract, KubernetesCalls(standin))


def _deployed(
    assembly: Path, aws_contract: aws_calls.Recorder, kubernetes: KubernetesCalls | None
) -> Iterator[Pipeline]:
    knobs = {"POLL_INTERVAL_SECONDS": "0", "FAKE_JOB_STATES": "RUNNING,SUCCEEDED"}

    @contextmanager
    def around(function: str) -> Iterator[None]:
        with aws_contract.in_function(function), kubernetes.in_function(function) if kubernetes else nullcontext():
            yield

    with (
        mock_aws(config={"stepfunctions": {"execute_state_machine": True}}),
        hyperpod_installed(FakeHyperPod(region=REGION, account=ACCOUNT)) as cluster,
        kubernetes.standin.as_the_cluster() if kubernetes else nullcontext(),
    ):
        templates = Templates.from_dir(assembly, account=ACCOUNT, region=REGION)
        local = deploy(templates)
        backend = cluster_on_kubernetes if kubernetes else scripted_cluster
        with handlers_in_process(env=lambda _: knobs, cluster=backend, around=around) as calls:
            yield Pipeline(local, calls, knobs, boto3.client("s3", region_name=REGION), cluster, kubernetes)
    problems = unauthorised_calls(templates, aws_contract.calls)
    if kubernetes is not None:
        problems += unauthorised_requests(templates, kubernetes.by_function)
    if problems:
        pytest.fail("calls the synthesised IAM roles or RBAC do not allow:\n  " + "\n  ".join(problems), pytrace=False)
