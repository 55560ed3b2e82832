"""Checkov gate over the synthesised CloudFormation templates of app.py.

Checkov pins an older boto3 than the project, so it lives in its own virtual environment,
``.venv-checkov/`` (made by ``make checkov-setup`` from .ci/checkov-requirements.txt; `make test`
depends on it). Without that environment these tests are skipped, unless
``NOVA_CPT_REQUIRE_CHECKOV=1`` (set by `make test`), where a missing checkov fails them.

The gate: no failed check, and every skipped check carries a written reason. A check is
skipped next to the resource that causes it, in the CDK code, with
``stacks.shared.nag.skip_checkov(construct, "CKV_AWS_...", "reason")``, which writes
``Metadata: {checkov: {skip: [{id, comment}]}}`` into the template where checkov reads it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow

CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"
REQUIRE_ENV = "NOVA_CPT_REQUIRE_CHECKOV"
MIN_REASON_LENGTH = 40
NO_COMMENT = "No comment provided"  # what checkov reports for a skip without a comment
# Every check skipped anywhere, and why (the reasons themselves are in the CDK code, next to the
# resources). A new skip is a decision to review: add it here too.
ALLOWED_SKIPS = {
    "CKV_AWS_115": "Lambda reserved concurrency: would carve capacity out of the account's shared pool",
    "CKV_AWS_116": "Lambda DLQ: the state machine invokes synchronously (the async Trigger and CleanUpAborted have "
    "a DLQ); a schedule invokes WatchCapacity every 5 minutes with an empty event, nothing to keep",
    "CKV_AWS_117": "Lambda in a VPC: the functions only call public AWS APIs until the HyperPod issue",
    "CKV_AWS_173": "Lambda environment encryption: no secrets in the environment",
    "CKV_AWS_27": "SQS encryption: SQS managed SSE, which the check does not recognise",
    "CKV_AWS_18": "S3 access logging of the access-log bucket itself",
    "CKV2_AWS_57": "Secret rotation: the installer's wait-condition URL cannot rotate; each installation replaces it",
}


def _checkov_or_skip() -> Path:
    if CHECKOV.is_file() and os.access(CHECKOV, os.X_OK):
        return CHECKOV
    message = f"{CHECKOV.relative_to(ROOT)} is missing: run `make checkov-setup` (or `make test`) to install checkov"
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(message)
    pytest.skip(message)


def _offline_env() -> dict[str, str]:
    """This environment without AWS credentials, profile, region or CDK_* settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CDK_"))}
    env |= {
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    return env


def run_checkov(directory: Path) -> dict[str, Any]:
    """Checkov's JSON report of every CloudFormation template in `directory` (offline: --skip-download).

    Not --quiet: with it the JSON report leaves out the skipped checks, whose reasons are checked.
    """
    checkov = _checkov_or_skip()
    result = subprocess.run(
        [
            str(checkov),
            "--directory",
            str(directory),
            "--framework",
            "cloudformation",
            "--compact",
            "--output",
            "json",
            "--skip-download",  # no Prisma Cloud calls: guidelines, mappings
        ],
        cwd=directory,
        env=_offline_env() | {"LOG_LEVEL": "WARNING"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    # Exit code 1 means "some check failed"; anything else but 0 is checkov itself failing.
    assert result.returncode in (0, 1), f"checkov failed ({result.returncode}):\n{result.stderr[-4000:]}"
    report = json.loads(result.stdout)
    reports = report if isinstance(report, list) else [report]  # a list when several frameworks report
    (cloudformation,) = [r for r in reports if r.get("check_type") == "cloudformation"]
    assert isinstance(cloudformation, dict)
    return cloudformation


def unjustified(report: dict[str, Any]) -> list[str]:
    """Failed checks, and skipped ones without a written reason: what the gate refuses."""
    results = report["results"]
    problems = [
        f"FAILED {c['check_id']} ({c['check_name']}) at {Path(c['file_path']).name}:{c['resource']}"
        for c in results.get("failed_checks", [])
    ]
    for check in results.get("skipped_checks", []):
        reason = (check["check_result"].get("suppress_comment") or "").strip()
        if reason == NO_COMMENT or len(reason) < MIN_REASON_LENGTH:
            problems.append(f"SKIPPED WITHOUT REASON {check['check_id']} at {check['resource']}: {reason!r}")
    return problems


# --------------------------------------------------------------------------- the real app


@pytest.fixture(scope="module")
def cloud_assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """app.py synthesised the way the CDK CLI runs it (cdk.json's context), without Lambda bundling.

    Checkov reads only the templates, and the code asset's hash is computed from the sources,
    so the templates are the ones `make synth` writes.
    """
    _checkov_or_skip()
    outdir = tmp_path_factory.mktemp("checkov") / "cdk.out"
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    context["aws:cdk:bundling-stacks"] = []
    env = _offline_env() | {"CDK_OUTDIR": str(outdir), "CDK_CONTEXT_JSON": json.dumps(context)}
    result = subprocess.run(
        [sys.executable, "app.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, f"synth failed:\n{result.stdout}\n{result.stderr}"
    return outdir


@pytest.fixture(scope="module")
def report(cloud_assembly: Path) -> dict[str, Any]:
    return run_checkov(cloud_assembly)


def test_checkov_scanned_every_template(cloud_assembly: Path, report: dict[str, Any]) -> None:
    templates = {p.name for p in cloud_assembly.glob("*.template.json")}
    assert {"NovaCptStorage.template.json", "NovaCptPipeline.template.json"} <= templates
    results = report["results"]
    scanned = {
        Path(c["file_path"]).name
        for kind in ("passed_checks", "failed_checks", "skipped_checks")
        for c in results.get(kind, [])
    }
    assert scanned == templates
    assert report["summary"]["parsing_errors"] == 0
    assert results.get("parsing_errors", []) == []
    assert report["summary"]["resource_count"] > 0


def test_no_failed_checkov_check_without_a_written_reason(report: dict[str, Any]) -> None:
    assert unjustified(report) == []
    assert report["summary"]["failed"] == 0


def test_skips_are_the_reviewed_ones(report: dict[str, Any]) -> None:
    skipped = {c["check_id"] for c in report["results"].get("skipped_checks", [])}
    assert skipped <= set(ALLOWED_SKIPS), sorted(skipped - set(ALLOWED_SKIPS))


def test_skips_are_written_next_to_their_resources(cloud_assembly: Path) -> None:
    """Each skip in a template's Metadata has an id and a specific reason; none is a blanket skip."""
    found = 0
    for template_path in sorted(cloud_assembly.glob("*.template.json")):
        template = json.loads(template_path.read_text())
        for logical_id, resource in template.get("Resources", {}).items():
            skips = resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
            ids = [s.get("id") for s in skips]
            assert len(ids) == len(set(ids)), f"{logical_id}: a check is skipped twice"
            for skip in skips:
                assert set(skip) == {"id", "comment"}, f"{logical_id}: {skip}"
                assert skip["id"] in ALLOWED_SKIPS, f"{logical_id}: {skip}"
                assert len(skip["comment"].strip()) >= MIN_REASON_LENGTH, f"{logical_id}: {skip}"
                found += 1
            # cdk-nag's acknowledgements stay beside checkov's skips.
            if skips and resource["Type"] == "AWS::S3::Bucket":
                assert resource["Metadata"].get("cdk_nag"), logical_id
    assert found > 0


# --------------------------------------------------------------------------- the gate itself works


CANARY = {
    "AWSTemplateFormatVersion": "2010-09-09",
    "Resources": {
        # No encryption, no access logging, no versioning, public access not blocked: several failures.
        "PlainBucket": {"Type": "AWS::S3::Bucket", "Properties": {}},
        # A skip without a comment is not a justification.
        "UnexplainedQueue": {
            "Type": "AWS::SQS::Queue",
            "Properties": {},
            "Metadata": {"checkov": {"skip": [{"id": "CKV_AWS_27"}]}},
        },
        "ExplainedQueue": {
            "Type": "AWS::SQS::Queue",
            "Properties": {},
            "Metadata": {
                "checkov": {
                    "skip": [{"id": "CKV_AWS_27", "comment": "A canary queue that holds nothing, in no real stack."}]
                }
            },
        },
    },
}


def test_gate_refuses_failures_and_skips_without_reasons(tmp_path: Path) -> None:
    (tmp_path / "Canary.template.json").write_text(json.dumps(CANARY))
    problems = unjustified(run_checkov(tmp_path))
    failed = [p for p in problems if p.startswith("FAILED ")]
    assert any(p.startswith("FAILED CKV_AWS_18 ") and p.endswith(":AWS::S3::Bucket.PlainBucket") for p in failed)
    assert not any("Queue" in p for p in failed)  # both queues' CKV_AWS_27 is skipped
    unexplained = [p for p in problems if p.startswith("SKIPPED WITHOUT REASON ")]
    assert unexplained == [
        "SKIPPED WITHOUT REASON CKV_AWS_27 at AWS::SQS::Queue.UnexplainedQueue: 'No comment provided'"
    ]


def test_skip_checkov_accumulates_skips_on_the_l1_resource() -> None:
    import aws_cdk as cdk
    from aws_cdk import aws_sqs as sqs

    from stacks.shared.nag import skip_checkov

    stack = cdk.Stack(cdk.App(), "SkipCanary")
    queue = sqs.Queue(stack, "Queue")
    skip_checkov(queue, "CKV_AWS_27", "first reason, long enough to say why this is fine here")
    skip_checkov(queue.node.default_child, "CKV_AWS_999", "second reason, on the L1 resource itself this time")
    template = cdk.assertions.Template.from_stack(stack).to_json()
    (resource,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::SQS::Queue"]
    assert resource["Metadata"]["checkov"] == {
        "skip": [
            {"id": "CKV_AWS_27", "comment": "first reason, long enough to say why this is fine here"},
            {"id": "CKV_AWS_999", "comment": "second reason, on the L1 resource itself this time"},
        ]
    }
    with pytest.raises(ValueError, match="needs a reason"):
        skip_checkov(queue, "CKV_AWS_1", "  ")
    with pytest.raises(TypeError, match="no CloudFormation resource"):
        skip_checkov(stack, "CKV_AWS_1", "a stack is not a resource, so there is nothing to carry the skip")
