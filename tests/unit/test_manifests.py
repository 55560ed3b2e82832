"""The job's manifests: the PyTorchJob CRD schema, domain facts section 6, and `cpt render-job`."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from novacpt.catalog import IMAGE_ACCOUNTS
from novacpt.jobs.manifests import (
    EXECUTION_ANNOTATION,
    EXECUTION_LABEL,
    RUN_LABEL,
    label_value,
    render_manifests,
    target_problems,
    to_yaml,
)
from novacpt.naming import job_name
from novacpt.recipe import Recipe, validate_recipe_file
from novacpt_cli import app
from novacpt_dev.k8s_standin import closed
from tests.conftest import ROOT, SHARED_REFERENCE

RECIPES = sorted((ROOT / "recipes").glob("*.yaml"))
PATHS = {"run.data_s3_path": "s3://data-bkt/jobs/a/train.jsonl", "run.output_s3_path": "s3://out-bkt/a"}
ACCOUNT = "123456789012"
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_LABEL_VALUE = re.compile(r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?")


def ready(path: Path, **overrides: Any) -> Recipe:
    report = validate_recipe_file(path, overrides={**PATHS, **overrides})
    assert report.model is not None, report.errors
    return report.model


def render(recipe: Recipe, **changes: str) -> list[dict[str, Any]]:
    args = {"region": "us-east-1", "account": ACCOUNT, "job_name": "nova-cpt-1a2b3c4d", "execution": "run-a"}
    return render_manifests(recipe, **{**args, **changes})


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    path = SHARED_REFERENCE / "kubeflow" / "kubeflow.org_pytorchjobs.yaml"
    if not path.is_file():
        pytest.skip(f"PyTorchJob CRD not found at {path} (../shared/reference is absent)")
    crd = yaml.safe_load(path.read_text())
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    schema = closed(version["schema"]["openAPIV3Schema"])  # as the strict stand-in API checks it
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.stem)
def test_every_ready_recipe_renders_a_job_the_crd_accepts(
    path: Path, validator: jsonschema.protocols.Validator
) -> None:
    recipe = ready(path)
    for region in IMAGE_ACCOUNTS:
        _, job = render(recipe, region=region)
        errors = [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(job)]
        assert errors == []


def test_schema_check_catches_wrong_types_and_misspelt_fields(validator: jsonschema.protocols.Validator) -> None:
    _, job = render(ready(RECIPES[0]))
    wrong = copy.deepcopy(job)
    wrong["spec"]["pytorchReplicaSpecs"]["Worker"]["replicas"] = "7"
    wrong["spec"]["pytorchReplicaSpecs"]["Master"]["template"]["spec"]["toleration"] = []
    paths = {tuple(e.absolute_path) for e in validator.iter_errors(wrong)}
    assert ("spec", "pytorchReplicaSpecs", "Worker", "replicas") in paths
    assert ("spec", "pytorchReplicaSpecs", "Master", "template", "spec") in paths


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.stem)
def test_job_follows_the_launcher_layout(path: Path) -> None:
    recipe = ready(path)
    config_map, job = render(recipe, region="ap-northeast-1", namespace="cpt-jobs")
    assert (config_map["apiVersion"], config_map["kind"]) == ("v1", "ConfigMap")  # the core API group serves it
    assert (job["apiVersion"], job["kind"]) == ("kubeflow.org/v1", "PyTorchJob")
    assert job["metadata"]["name"] == "nova-cpt-1a2b3c4d" and job["metadata"]["namespace"] == "cpt-jobs"
    specs = job["spec"]["pytorchReplicaSpecs"]
    assert {role: s["replicas"] for role, s in specs.items()} == {"Master": 1, "Worker": recipe.run.replicas - 1}
    assert {s["restartPolicy"] for s in specs.values()} == {"OnFailure"}
    for spec in specs.values():
        pod = spec["template"]["spec"]
        (container,) = pod["containers"]
        assert container["name"] == "pytorch"  # the training operator configures this container
        tag = "HP-CPT-latest" if recipe.generation == "1.0" else "SM-HP-CPT-V2-latest"
        assert container["image"] == f"878185805882.dkr.ecr.ap-northeast-1.amazonaws.com/nova-fine-tune-repo:{tag}"
        devices = {"nvidia.com/gpu": 8, "vpc.amazonaws.com/efa": 32}
        assert container["resources"] == {"requests": devices, "limits": devices}
        assert container["securityContext"]["capabilities"]["add"] == ["IPC_LOCK"]
        assert {e["name"]: e["value"] for e in container["env"]} == {
            "AWS_REGION": "ap-northeast-1",
            "INSTANCE_TYPE": "ml.p5.48xlarge",
            "X_AMZ_SOURCE_ACCOUNT": ACCOUNT,
        }
        (init,) = pod["initContainers"]
        assert init["image"] == "878185805882.dkr.ecr.ap-northeast-1.amazonaws.com/init-container-repo:latest"
        assert pod["tolerations"] == [
            {
                "key": "sagemaker.amazonaws.com/RestrictedNode",
                "operator": "Equal",
                "value": "Worker",
                "effect": "NoSchedule",
            }
        ]
        (term,) = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
        assert {(m["key"], m["operator"], tuple(m["values"])) for m in term["matchExpressions"]} == {
            ("sagemaker.amazonaws.com/instance-group-type", "In", ("Restricted",)),
            ("node.kubernetes.io/instance-type", "In", ("ml.p5.48xlarge",)),
        }
        volumes = {v["name"]: v for v in pod["volumes"]}
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        assert volumes[mounts["/config"]]["configMap"]["name"] == config_map["metadata"]["name"]
        assert volumes[mounts["/dev/shm"]]["emptyDir"] == {"medium": "Memory"}
        assert volumes[mounts["/tmp"]]["hostPath"]["path"] == "/opt/dlami/nvme"
        assert volumes[mounts["/var/log/aws/clusters"]]["hostPath"]["path"] == "/var/log/aws/clusters"
        assert any(v.get("hostPath", {}).get("path", "").startswith("/sagemaker/fsx") for v in volumes.values())
        (init,) = pod["initContainers"]
        init_mounts = {m["mountPath"]: m["name"] for m in init["volumeMounts"]}
        assert volumes[init_mounts["/sagemaker/fsx/init"]]["hostPath"]["path"] == "/sagemaker/fsx/init"
        assert init["env"] == container["env"]
        assert set(mounts.values()) | set(init_mounts.values()) == set(volumes)  # every volume is used


def test_config_map_holds_the_recipe_as_it_will_run() -> None:
    recipe = ready(ROOT / "recipes" / "nova_lite_cpt.yaml", **{"training_config.trainer.max_epochs": 3})
    config_map, _ = render(recipe)
    assert config_map["metadata"]["name"] == "training-config-nova-cpt-1a2b3c4d"
    assert list(config_map["data"]) == ["config.yaml"]
    as_run = yaml.safe_load(config_map["data"]["config.yaml"])
    expected = recipe.model_dump(mode="json", exclude_unset=True)
    expected["run"]["name"] = "nova-cpt-1a2b3c4d"  # the trainer writes under <output_s3_path>/<job name>/
    assert as_run == expected
    assert as_run["training_config"]["trainer"]["max_epochs"] == 3
    assert as_run["training_config"]["model"]["optim"]["lr"] == pytest.approx(1e-5)  # a float, not "1e-5"


def test_labels_carry_run_and_execution_and_a_long_execution_still_fits() -> None:
    recipe = ready(RECIPES[0])
    execution = "pharma-trial-" + "x" * 47 + "-0123456789abcdef0123"  # 80 characters, the Step Functions maximum
    name = job_name(recipe.run.name, execution)
    documents = render(recipe, job_name=name, execution=execution)
    for doc in documents:
        labels = doc["metadata"]["labels"]
        assert labels[RUN_LABEL] == recipe.run.name
        assert labels[EXECUTION_LABEL] == label_value(execution)
        assert doc["metadata"]["annotations"][EXECUTION_ANNOTATION] == execution
        assert all(len(v) <= 63 and _LABEL_VALUE.fullmatch(v) for v in labels.values())
    pod_labels = documents[1]["spec"]["pytorchReplicaSpecs"]["Worker"]["template"]["metadata"]["labels"]
    assert pod_labels[EXECUTION_LABEL] == label_value(execution)
    assert _DNS_LABEL.fullmatch(name) and len(name) <= 63


@pytest.mark.parametrize(
    "text", ["run-a", "a" * 63, "a" * 64, "has space", "ends-with-", "_leading", "ünïcode-name", "", "x:y/z", "日本語"]
)
def test_label_value_is_always_a_valid_label_and_distinct(text: str) -> None:
    value = label_value(text)
    assert len(value) <= 63 and _LABEL_VALUE.fullmatch(value)
    assert (value == text) == (len(text) <= 63 and bool(_LABEL_VALUE.fullmatch(text)))
    assert label_value(text + "1") != value


@pytest.mark.parametrize(
    ("text", "readable"),
    [
        ("team a/run 1", "team-a-run-1"),  # each run of other characters becomes one '-'
        ("X-ray run.", "X-ray-run"),  # letters of either case kept, separators at the ends trimmed
        ("日本語", ""),  # nothing usable: the digest alone
    ],
)
def test_a_label_value_that_must_change_keeps_a_readable_prefix_then_a_digest(text: str, readable: str) -> None:
    """What `kubectl get pytorchjobs -L` shows a person for an execution name that is not a label value."""
    digest = r"[0-9a-f]{10}"
    assert re.fullmatch(rf"{re.escape(readable)}-{digest}" if readable else digest, label_value(text))


def test_a_long_label_value_keeps_as_much_of_the_text_as_fits() -> None:
    value = label_value("study " * 20)
    assert len(value) == 63 and value.startswith("study-study-")


def test_rendering_is_pure_and_json_ready() -> None:
    recipe = ready(RECIPES[1])
    first, second = render(recipe), render(recipe)
    assert first == second
    assert json.loads(json.dumps(first)) == first
    second[1]["spec"]["pytorchReplicaSpecs"]["Master"]["template"]["metadata"]["labels"]["x"] = "y"
    assert "x" not in second[1]["spec"]["pytorchReplicaSpecs"]["Worker"]["template"]["metadata"]["labels"]


def test_unusable_targets_are_named() -> None:
    recipe = ready(RECIPES[0])
    with pytest.raises(ValueError, match="'eu-west-1' has no Nova CPT images"):
        render(recipe, region="eu-west-1")
    problems = target_problems(region="us-east-1", account="12345", namespace="Bad_NS", job_name="x" * 64)
    assert len(problems) == 3
    assert any("account" in p for p in problems) and any("namespace" in p for p in problems)
    assert target_problems(region="us-west-2", account=ACCOUNT, namespace="kubeflow") == []


def test_a_job_name_too_long_for_its_worker_services_is_refused() -> None:
    recipe = ready(ROOT / "recipes" / "nova_pro_cpt.yaml")  # 24 replicas: <job>-worker-22
    with pytest.raises(ValueError, match="too long for 24 replicas"):
        render(recipe, job_name="j" * 60)
    assert render(recipe, job_name="j" * (63 - len("-worker-22")))


@pytest.mark.parametrize(
    ("recipe", "replicas", "longest"),
    [("nova_pro_cpt.yaml", 12, "-worker-10"), ("nova_lite_cpt.yaml", 8, "-worker-6")],
)
def test_the_last_worker_service_decides_how_long_the_job_name_may_be(recipe: str, replicas: int, longest: str) -> None:
    """Workers are numbered from 0, so the last of `replicas - 1` workers is `<job>-worker-<replicas - 2>`."""
    model = ready(ROOT / "recipes" / recipe, **{"run.replicas": replicas})
    fits = "j" * (63 - len(longest))
    assert render(model, job_name=fits)
    with pytest.raises(ValueError, match=f"too long for {replicas} replicas"):
        render(model, job_name=fits + "j")


@pytest.mark.parametrize("namespace", ["2026-runs", "n" * 63, "a"])
def test_a_namespace_may_be_any_dns_label_up_to_63_characters(namespace: str) -> None:
    assert target_problems(region="us-east-1", account=ACCOUNT, namespace=namespace, job_name="a1-run") == []


def test_a_job_name_must_start_with_a_letter_and_the_problem_says_so() -> None:
    (problem,) = target_problems(region="us-east-1", account=ACCOUNT, namespace="team-a", job_name="1-run")
    assert problem.startswith("job name '1-run'") and "starting with a letter" in problem
    (problem,) = target_problems(region="us-east-1", account=ACCOUNT, namespace="Team", job_name="a-run")
    assert problem.startswith("namespace 'Team'") and "starting with a letter" not in problem


def test_a_region_without_nova_images_is_a_target_problem_naming_it() -> None:
    (problem,) = target_problems(region="eu-west-1", account=ACCOUNT, namespace="kubeflow", job_name="a-run")
    assert "'eu-west-1' has no Nova CPT images" in problem


def test_a_job_name_that_is_not_a_dns_label_is_refused() -> None:
    with pytest.raises(ValueError, match="job name 'Nova_CPT'"):
        render(ready(RECIPES[0]), job_name="Nova_CPT")


def test_a_two_node_job_has_one_master_and_one_worker() -> None:
    model = ready(ROOT / "recipes" / "nova_micro_cpt.yaml", **{"run.replicas": 2})
    specs = render(model)[1]["spec"]["pytorchReplicaSpecs"]
    assert {role: spec["replicas"] for role, spec in specs.items()} == {"Master": 1, "Worker": 1}


def test_yaml_is_multi_document_with_the_recipe_as_a_block() -> None:
    text = to_yaml(render(ready(RECIPES[0])))
    assert text.startswith("---\n") and text.count("\n---\n") == 1
    assert "config.yaml: |\n" in text and "&id" not in text
    assert [d["kind"] for d in yaml.safe_load_all(text)] == ["ConfigMap", "PyTorchJob"]


# --- cpt render-job ---------------------------------------------------------------------------------

runner = CliRunner()
LITE = ROOT / "recipes" / "nova_lite_cpt.yaml"
SETS = [arg for key, value in PATHS.items() for arg in ("--set", f"{key}={value}")]


def cli(*args: str) -> Any:
    return runner.invoke(app, ["render-job", *args])


def test_render_job_options_and_overrides() -> None:
    result = cli(
        str(LITE), "--region", "us-east-1", "--account", ACCOUNT, *SETS,
        "--set", "run.replicas=8", "--job-name", "my-job", "--namespace", "team-a",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    config_map, job = yaml.safe_load_all(result.stdout)
    assert job["metadata"]["name"] == "my-job" and job["metadata"]["namespace"] == "team-a"
    assert config_map["metadata"]["name"] == "training-config-my-job"
    assert job["spec"]["pytorchReplicaSpecs"]["Worker"]["replicas"] == 7


def test_render_job_renders_a_ready_recipe_as_shipped_with_notes() -> None:
    result = cli(str(LITE), "--region", "us-east-1", "--account", ACCOUNT)  # empty S3 paths
    assert result.exit_code == 0, result.output
    assert "note: run.data_s3_path: empty: filled by the pipeline" in result.stderr
    config_map, _ = yaml.safe_load_all(result.stdout)
    assert yaml.safe_load(config_map["data"]["config.yaml"])["run"]["data_s3_path"] == ""


def test_render_job_invalid_recipe_exit_1_with_its_errors_and_no_yaml() -> None:
    result = cli(str(LITE), "--region", "us-east-1", "--account", ACCOUNT, "--require-paths")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "run.data_s3_path: '' is not allowed" in result.stderr
    assert "run.output_s3_path: '' is not allowed" in result.stderr
    bad = cli(str(LITE), "--region", "us-east-1", "--account", ACCOUNT, *SETS, "--set", "run.replicas=5")
    assert bad.exit_code == 1 and "run.replicas" in bad.stderr


def test_render_job_usage_errors_exit_2_with_one_line() -> None:
    region = cli(str(LITE), "--region", "eu-west-1", "--account", ACCOUNT, *SETS)
    assert region.exit_code == 2 and region.stdout == ""
    assert region.stderr.count("\n") == 1 and "'eu-west-1' has no Nova CPT images" in region.stderr
    account = cli(str(LITE), "--region", "us-east-1", "--account", "12", *SETS)
    assert account.exit_code == 2 and "12 digits" in account.stderr
    name = cli(str(LITE), "--region", "us-east-1", "--account", ACCOUNT, *SETS, "--job-name", "Bad_Name")
    assert name.exit_code == 2 and "DNS-1123" in name.stderr
    missing = cli("/no/such/recipe.yaml", "--region", "us-east-1", "--account", ACCOUNT)
    assert missing.exit_code == 2
    malformed = cli(str(LITE), "--region", "us-east-1", "--account", ACCOUNT, "--set", "no-equals-sign")
    assert malformed.exit_code == 2


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.stem)
def test_pods_of_a_finished_job_are_kept_so_its_failure_can_be_read(recipe: Path) -> None:
    """The operator must not delete a failed job's pods: the watchdog and the notification read their states.

    Said explicitly, not left to the operator's default, which has differed between versions and job kinds.
    """
    _, job = render(ready(recipe))
    assert job["spec"]["runPolicy"]["cleanPodPolicy"] == "None"
