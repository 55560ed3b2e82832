"""Local checks against the deployment's cluster settings (cdk.json or a stack), with the pipeline's messages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from typer.testing import CliRunner

from novacpt.recipe import validate_recipe_bytes
from novacpt_cli import app
from tests.conftest import ROOT, SHARED_REFERENCE

runner = CliRunner()
RECIPES = ROOT / "recipes"
MICRO, LITE, LITE_2 = (RECIPES / f"{name}.yaml" for name in ("nova_micro_cpt", "nova_lite_cpt", "nova_lite_2_cpt"))


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def cdk_json(folder: Path, **settings: Any) -> Path:
    """A cdk.json like the project's, with `settings` under "nova-cpt"."""
    document = json.loads((ROOT / "cdk.json").read_text())
    document["context"]["nova-cpt"].update(settings)
    path = folder / "cdk.json"
    path.write_text(json.dumps(document))
    return path


def test_a_recipe_for_another_model_is_refused_with_the_pipelines_message(tmp_path: Path) -> None:
    config = cdk_json(tmp_path, model="lite", max_replicas=16)
    code, out = run("validate-recipe", str(MICRO), "--cdk-json", str(config), "--json")
    assert code == 1
    (error,) = json.loads(out)["errors"]
    assert error["field"] == "run.model_type"
    assert "nova-cpt:model" in error["message"] and "set nova-cpt:model to micro" in error["message"]
    pipeline = validate_recipe_bytes(
        MICRO.read_bytes(), require_s3_paths=False, model_type="amazon.nova-lite-v1:0:300k", max_replicas=16
    )
    assert [e.message for e in pipeline.errors] == [error["message"]]


def test_too_many_replicas_names_max_replicas(tmp_path: Path) -> None:
    config = cdk_json(tmp_path, model="lite", max_replicas=8)
    code, out = run("validate-recipe", str(LITE), "--cdk-json", str(config))
    assert code == 1
    assert "run.replicas: 16 is not allowed" in out and "set nova-cpt:max_replicas to 16" in out


def test_a_2_0_deployment_with_32_replicas_accepts_the_2_0_recipe(tmp_path: Path) -> None:
    config = cdk_json(tmp_path, model="lite-2", max_replicas=32)
    code, out = run("validate-recipe", str(LITE_2), "--cdk-json", str(config), "--set", "run.replicas=32")
    assert code == 0, out
    assert run("validate-recipe", str(LITE), "--cdk-json", str(config))[0] == 1


def test_the_cdk_json_in_the_current_directory_gives_warnings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cdk_json(tmp_path, model="lite", max_replicas=16)
    monkeypatch.chdir(tmp_path)
    code, out = run("validate-recipe", *(str(p) for p in sorted(RECIPES.glob("*.yaml"))))
    assert code == 0, out
    assert "warning: run.model_type: the deployment in cdk.json would refuse this" in out
    assert "nova-cpt:model" in out


def test_a_bad_cdk_json_is_a_usage_error_naming_the_key(tmp_path: Path) -> None:
    config = cdk_json(tmp_path, model="nova-premier")
    result = runner.invoke(app, ["validate-recipe", str(LITE), "--cdk-json", str(config)])
    assert result.exit_code == 2
    assert "nova-cpt.model" in result.output and "lite-2" in result.output
    missing = runner.invoke(app, ["validate-recipe", str(LITE), "--cdk-json", str(tmp_path / "none.json")])
    assert missing.exit_code == 2


def _stubbed_cloudformation(outputs: dict[str, str]) -> Any:
    client = boto3.client("cloudformation", region_name="us-west-2", aws_access_key_id="x", aws_secret_access_key="x")
    stub = Stubber(client)
    stack_id = "arn:aws:cloudformation:us-west-2:123456789012:stack/NovaCptPipeline/abc"
    stack = {
        "StackName": "NovaCptPipeline",
        "StackId": stack_id,
        "CreationTime": "2026-01-01T00:00:00Z",
        "StackStatus": "CREATE_COMPLETE",
        "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in outputs.items()],
    }
    stub.add_response("describe_stacks", {"Stacks": [stack]}, {"StackName": "NovaCptPipeline"})
    stub.activate()
    return client


def test_a_deployed_stack_gives_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    client = _stubbed_cloudformation({"ClusterModel": "lite-2", "MaxReplicas": "8"})
    monkeypatch.setattr(boto3.session.Session, "client", lambda self, name, **kw: client)
    code, out = run("validate-recipe", str(LITE_2), "--stack", "NovaCptPipeline", "--set", "run.replicas=16")
    assert code == 1
    assert "at most 8 instances (nova-cpt:max_replicas in cdk.json)" in out


def test_a_stack_without_the_outputs_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    client = _stubbed_cloudformation({})
    monkeypatch.setattr(boto3.session.Session, "client", lambda self, name, **kw: client)
    result = runner.invoke(app, ["validate-recipe", str(LITE_2), "--stack", "NovaCptPipeline"])
    assert result.exit_code == 2 and "redeploy" in result.output


def test_render_job_takes_the_region_from_cdk_json_and_uses_the_v2_image(tmp_path: Path) -> None:
    official = SHARED_REFERENCE / "nova-recipes" / "nova_lite_2_0_p5x8_gpu_pretrain.yaml"
    parameters = SHARED_REFERENCE / "nova-launcher" / "nova_regional_parameters.json"
    if not official.is_file() or not parameters.is_file():
        pytest.skip(f"reference files not found under {SHARED_REFERENCE} (../shared is absent)")
    config = cdk_json(
        tmp_path, model="lite-2", max_replicas=8, region="us-west-2", availability_zones=["us-west-2a", "us-west-2b"]
    )
    result = runner.invoke(app, ["render-job", str(official), "--account", "123456789012", "--cdk-json", str(config)])
    assert result.exit_code == 0, result.output
    expected = json.loads(parameters.read_text())["nova_lite_2_0_p5x8_gpu_pretrain"]["k8s"]["container_image"]
    assert f"image: {expected['prod']['us-west-2']}" in result.stdout
    assert "SM-HP-CPT-V2-latest" in expected["prod"]["us-west-2"]


def test_plan_takes_the_price_from_cdk_json(tmp_path: Path) -> None:
    config = cdk_json(tmp_path, model="lite-2", max_replicas=8, price_per_instance_hour=98.32)
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps({"text": f"record {i} " * 50}) + "\n" for i in range(200)))
    code, out = run("plan", str(LITE_2), "--dataset", str(data), "--cdk-json", str(config), "--json")
    assert code == 0, out
    plan = json.loads(out)
    assert plan["price_per_instance_hour"] == 98.32
    assert plan["cost_usd"] == round(plan["instance_hours"] * 98.32, 2)


@pytest.mark.parametrize(("model", "replicas"), [("lite-2", 32), ("lite-2", 4), ("micro", 32), ("lite", 32)])
def test_cdk_json_accepts_nova_2_lite_and_32_replicas(model: str, replicas: int) -> None:
    from stacks.config import DeploymentConfig

    context = {"nova-cpt": {"model": model, "max_replicas": replicas}}
    config = DeploymentConfig.from_context(context.get)
    assert (config.model, config.max_replicas) == (model, replicas)
