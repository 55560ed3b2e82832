"""`cpt render-job` against AWS's own launcher template: the same volumes, mounts, host paths and env vars.

AWS's `training.yaml` is rendered with its `values.yaml` plus what AWS's launcher sets for a Nova CPT job
(job name, images, env vars, node labels, replicas), and with the project's labels, annotations and clean-pod
policy in the places the template has for them. Whatever then differs is a deliberate difference, listed
in DELIBERATE and in the README's table.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from novacpt.catalog import INIT_IMAGE, INSTANCE_TYPE, image_uri, training_image_uri
from novacpt.recipe import validate_recipe_file
from novacpt_cli import app
from novacpt_dev.k8s_standin import pod_spec_problems
from tests.conftest import ROOT, SHARED_REFERENCE
from tests.unit.helm_subset import render

LAUNCHER = SHARED_REFERENCE / "nova-launcher"
RECIPES = sorted((ROOT / "recipes").glob("*.yaml"))
ACCOUNT, REGION, JOB, NAMESPACE = "123456789012", "us-west-2", "trial-job-1", "kubeflow"
SETS = ["--set", "run.data_s3_path=s3://data-bkt/jobs/a/train.jsonl", "--set", "run.output_s3_path=s3://out-bkt/a"]
# (what, role, container, name, detail): facts only AWS's template has, each with a row in the README.
DELIBERATE = {
    ("mount", role, "init-container", "k8s-ca-cert", "/etc/kubernetes/pki/ca.crt (read-only)")
    for role in ("Master", "Worker")
}


@pytest.fixture(scope="module")
def template() -> tuple[str, dict[str, Any]]:
    if not (LAUNCHER / "training.yaml").is_file():
        pytest.skip(f"AWS's launcher template not found at {LAUNCHER} (../shared/reference is absent)")
    return (LAUNCHER / "training.yaml").read_text(), yaml.safe_load((LAUNCHER / "values.yaml").read_text())


def project_documents(recipe: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    args = [str(recipe), "--region", REGION, "--account", ACCOUNT, "--job-name", JOB, "--namespace", NAMESPACE]
    result = CliRunner().invoke(app, ["render-job", *args, *SETS])
    assert result.exit_code == 0, result.output
    config_map, job = yaml.safe_load_all(result.stdout)
    return config_map, job


def aws_job(
    template: tuple[str, dict[str, Any]], project: dict[str, Any], replicas: int, recipe: Path = RECIPES[0]
) -> dict[str, Any]:
    """AWS's PyTorchJob as its launcher renders it (launcher/nova/launchers.py, SFT launcher used for CPT)."""
    text, values = template
    values = json.loads(json.dumps(values))
    pod_labels = project["spec"]["pytorchReplicaSpecs"]["Master"]["template"]["metadata"]["labels"]
    paths = dict(arg.split("=", 1) for arg in SETS if arg != "--set")
    model = validate_recipe_file(recipe, overrides=paths).model
    assert model is not None
    values["image"]["trainingImage"] = training_image_uri(model.nova_model, REGION)  # the recipe's generation
    values["trainingConfig"].update(
        jobName=JOB,
        namespace=NAMESPACE,
        envVars={"X_AMZ_SOURCE_ACCOUNT": ACCOUNT, "INSTANCE_TYPE": INSTANCE_TYPE, "AWS_REGION": REGION},
        devices=8,
        numEFADevices=32,
        master_nodes=1,
        worker_nodes=replicas - 1,
        processed_worker_nodes=replicas - 1,
        labelSelector={
            "required": {
                "node.kubernetes.io/instance-type": [INSTANCE_TYPE],
                "sagemaker.amazonaws.com/instance-group-type": ["Restricted"],
            }
        },
        # The places the template has for what the project adds:
        customLabels=pod_labels,
        annotations=project["metadata"]["annotations"],
        cleanPodPolicy=project["spec"]["runPolicy"]["cleanPodPolicy"],
    )
    values["trainingConfig"]["initContainer"]["image"] = image_uri(REGION, INIT_IMAGE)
    job: dict[str, Any] = yaml.safe_load(render(text, values))
    return job


def facts(job: dict[str, Any]) -> set[tuple[str, str, str, str, str]]:
    """Every volume (with its source), mount (with its path) and env var name, per replica role and container."""
    found: set[tuple[str, str, str, str, str]] = set()
    for role, spec in job["spec"]["pytorchReplicaSpecs"].items():
        pod = spec["template"]["spec"]
        for volume in pod["volumes"]:
            source = {k: v for k, v in volume.items() if k != "name"}
            found.add(("volume", role, "", volume["name"], json.dumps(source, sort_keys=True)))
        for container in pod.get("initContainers", []) + pod["containers"]:
            for mount in container.get("volumeMounts", []):
                path = mount["mountPath"] + (" (read-only)" if mount.get("readOnly") else "")
                found.add(("mount", role, container["name"], mount["name"], path))
            for env in container.get("env", []):
                found.add(("env", role, container["name"], env["name"], ""))
    return found


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.stem)
def test_volumes_mounts_host_paths_and_env_match_aws_template_both_ways(
    recipe: Path, template: tuple[str, dict[str, Any]]
) -> None:
    _, ours = project_documents(recipe)
    replicas = 1 + ours["spec"]["pytorchReplicaSpecs"]["Worker"]["replicas"]
    theirs = aws_job(template, ours, replicas, recipe)
    assert sorted(facts(ours) - facts(theirs)) == []  # nothing the launcher does not have
    assert facts(theirs) - facts(ours) == DELIBERATE  # everything it has, but the documented differences
    host_paths = {f[4] for f in facts(ours) if f[0] == "volume" and "hostPath" in f[4]}
    assert {json.loads(p)["hostPath"]["path"] for p in host_paths} == {
        "/sagemaker/fsx/main",
        "/sagemaker/fsx/init",
        "/sagemaker/fsx/output_artifacts",
        "/var/log/aws/clusters",
        "/opt/dlami/nvme",
    }


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.stem)
def test_the_whole_job_is_aws_template_with_project_values_in_its_places(
    recipe: Path, template: tuple[str, dict[str, Any]]
) -> None:
    """Labels, annotations and the clean-pod policy only where the template has a place for them."""
    _, ours = project_documents(recipe)
    theirs = aws_job(template, ours, 1 + ours["spec"]["pytorchReplicaSpecs"]["Worker"]["replicas"], recipe)
    for spec in theirs["spec"]["pytorchReplicaSpecs"].values():
        (init,) = spec["template"]["spec"]["initContainers"]
        init["volumeMounts"] = [m for m in init["volumeMounts"] if m["name"] != "k8s-ca-cert"]  # DELIBERATE
    assert ours == theirs


def test_the_difference_is_the_mount_a_real_api_server_would_refuse(template: tuple[str, dict[str, Any]]) -> None:
    """AWS's template mounts `k8s-ca-cert` into the init container, but defines that volume only for
    `lambdaAccess` (evaluation jobs): as rendered for CPT, pod validation refuses the mount."""
    _, ours = project_documents(RECIPES[0])
    theirs = aws_job(template, ours, 2)
    problems = pod_spec_problems("t", theirs["spec"]["pytorchReplicaSpecs"]["Master"]["template"])
    assert problems == ["t.spec.initContainers[0].volumeMounts[3].name: Not found: 'k8s-ca-cert'"]
    assert pod_spec_problems("t", ours["spec"]["pytorchReplicaSpecs"]["Master"]["template"]) == []


def test_every_deliberate_difference_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "## Differences from AWS's launcher" in readme
    table = readme.split("## Differences from AWS's launcher", 1)[1].split("\n## ", 1)[0]
    for _, _, container, name, _ in DELIBERATE:
        assert f"`{name}`" in table and f"`{container}`" in table


def test_config_map_is_aws_template_plus_the_project_labels(template: tuple[str, dict[str, Any]]) -> None:
    config_map, _ = project_documents(RECIPES[0])
    config_text = (LAUNCHER / "training-config.yaml").read_text()
    assert "name: training-config-{{ $config.jobName }}" in config_text and "config.yaml: |-" in config_text
    assert config_map["metadata"]["name"] == f"training-config-{JOB}"
    assert list(config_map["data"]) == ["config.yaml"]
