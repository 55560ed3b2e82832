"""Gates over a real synth of app.py: cdk-nag (AwsSolutions) and cfn-lint on every template.

The synth runs once per module, the way `make synth` runs it: the CDK CLI with
cdk.json (feature flags, context) and `--app '<venv python> app.py'`, with no AWS
credentials and no CDK_DEFAULT_* environment. Every stack app.py adds later is
checked without changing this file.

How cdk-nag 3.x reports: it is a CDK validation plugin. With an unacknowledged
finding (error or warning) `app.synth()` raises ValidationFailed, the CLI exits
non-zero and `validation-report.json` in the output directory lists the violations;
with none, the report has no plugin reports.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from app import build_app
from stacks.shared.nag import VALIDATION_REPORT
from tests.conftest import ROOT
from tests.infra.conftest import Assembly

pytestmark = pytest.mark.slow

# Regions with Nova CPT training images (domain facts, section 6).
LINT_REGIONS = ("us-east-1", "us-west-2", "ap-northeast-1")
# CDK's DependsOn between resources that also reference each other (cfn-lint W3005) is harmless.
LINT_IGNORED = ("W3005",)
MIN_REASON_LENGTH = 40


def test_synth_succeeds_offline(assembly: Assembly) -> None:
    assert assembly.result.returncode == 0, f"synth failed:\n{assembly.result.stdout}\n{assembly.result.stderr}"
    names = {p.name for p in assembly.templates}
    assert "NovaCptStorage.template.json" in names


def test_every_stack_of_the_manifest_has_its_template(assembly: Assembly) -> None:
    expected: set[Path] = set()
    for manifest_path in sorted(assembly.outdir.rglob("manifest.json")):
        manifest = json.loads(manifest_path.read_text())
        for artifact in manifest["artifacts"].values():
            if artifact["type"] == "aws:cloudformation:stack":
                expected.add(manifest_path.parent / artifact["properties"]["templateFile"])
    assert expected, "no stacks in the cloud assembly"
    assert expected <= set(assembly.templates)


def test_no_unacknowledged_cdk_nag_findings(assembly: Assembly) -> None:
    report_path = assembly.outdir / VALIDATION_REPORT
    assert report_path.exists(), "no validation report: did the validation plugins run?"
    report = json.loads(report_path.read_text())
    findings = [
        f"{v['severity']} {v['ruleName']} at {[r.get('constructPath') for r in v.get('violatingConstructs', [])]}"
        for plugin in report["pluginReports"]
        for v in plugin.get("violations", [])
    ]
    assert findings == []
    assert all(plugin["conclusion"] == "success" for plugin in report["pluginReports"])


def test_no_cdk_error_or_warning_annotations(assembly: Assembly) -> None:
    annotations = [
        f"{entry['type']} at {path}: {entry.get('data')}"
        for manifest in assembly.manifests()
        for artifact in manifest["artifacts"].values()
        for path, entries in artifact.get("metadata", {}).items()
        for entry in entries
        if entry["type"] in {"aws:cdk:error", "aws:cdk:warning"}
    ]
    assert annotations == []


def test_acknowledgements_carry_specific_reasons(assembly: Assembly) -> None:
    """Every acknowledged cdk-nag rule is written to the template Metadata with its reason."""
    acknowledged: dict[str, str] = {}
    for template_path in assembly.templates:
        template = json.loads(template_path.read_text())
        for logical_id, resource in template.get("Resources", {}).items():
            for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", []):
                reason = rule.get("reason", "")
                assert len(reason.strip()) >= MIN_REASON_LENGTH, f"{logical_id}: {rule}"
                acknowledged[f"{template_path.stem}/{logical_id}/{rule['id']}"] = reason
    storage_rules = {k.split("/", 2)[2] for k in acknowledged if k.startswith("NovaCptStorage.template/")}
    # The access-log bucket does not log into itself (S1); every other acknowledgement in the
    # stateful stack is the object-ARN wildcard of one bucket, in its managed access policy.
    assert storage_rules == {
        "AwsSolutions-S1",
        "AwsSolutions-IAM5[Resource::<DatasetStorageArchiveBucketE681CEC4.Arn>/runs/*]",
        "AwsSolutions-IAM5[Resource::<DatasetStorageDataBucketC3882D93.Arn>/*]",
        "AwsSolutions-IAM5[Resource::<DatasetStorageOutputBucket582DB00B.Arn>/*]",
    }
    pipeline_actions = [k for k in acknowledged if "[Action::" in k]
    assert pipeline_actions == [], "no action wildcard is acknowledged anywhere"


def test_cfn_lint_finds_nothing(assembly: Assembly) -> None:
    templates = assembly.templates
    assert templates
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from cfnlint.runner import main; sys.exit(main())",  # what .venv/bin/cfn-lint runs
            "--format",
            "json",
            "--regions",
            *LINT_REGIONS,
            "--ignore-checks",
            *LINT_IGNORED,
            "--",
            *map(str, templates),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.stdout.strip(), result.stderr
    findings = json.loads(result.stdout)
    assert [
        f"{f['Rule']['Id']} {f['Filename']}:{f['Location']['Start']['LineNumber']} {f['Message']}" for f in findings
    ] == []
    assert result.returncode == 0, result.stderr


# --------------------------------------------------------------------------- the gate itself works


def test_nag_checks_are_wired_into_the_app(tmp_path: Path) -> None:
    """app.py's own wiring flags a non-compliant bucket and nothing in the real stacks."""
    import aws_cdk as cdk
    from aws_cdk import aws_s3 as s3

    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    app = cdk.App(outdir=str(tmp_path), context=context)
    build_app(app)
    canary = cdk.Stack(app, "NagCanary")
    s3.Bucket(canary, "PlainBucket")  # no access logs, no TLS-only policy

    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()

    report = json.loads((tmp_path / VALIDATION_REPORT).read_text())
    flagged = {
        (v["ruleName"], c["constructPath"])
        for plugin in report["pluginReports"]
        for v in plugin["violations"]
        for c in v["violatingConstructs"]
    }
    assert {rule for rule, _ in flagged} >= {"AwsSolutions-S1", "AwsSolutions-S10"}
    assert all(path.startswith("NagCanary/") for _, path in flagged), flagged
