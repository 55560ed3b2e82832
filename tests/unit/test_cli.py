"""The cpt command: exit codes and JSON shapes other tools rely on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from novacpt_cli import app
from tests.conftest import ROOT

runner = CliRunner()
LITE = ROOT / "recipes" / "nova_lite_cpt.yaml"


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


@pytest.fixture
def good(tmp_path: Path) -> Path:
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps({"text": f"sample {i}"}) + "\n" for i in range(50)))
    return path


@pytest.fixture
def bad(tmp_path: Path) -> Path:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b'{"text": "ok"}\n\n{"text": 3}\n{"text": "ok", "id": 1}\n')
    return path


def test_help_lists_commands() -> None:
    code, out = run("--help")
    assert code == 0
    for command in ("validate-dataset", "validate-recipe", "estimate"):
        assert command in out


def test_validate_dataset_valid_exit_0_and_json_shape(good: Path) -> None:
    code, out = run("validate-dataset", str(good), "--json")
    assert code == 0
    payload = json.loads(out)
    assert set(payload) == {"valid", "errors", "error_counts", "warnings", "stats"}
    assert payload["valid"] is True
    assert payload["errors"] == [] and payload["error_counts"] == {}
    assert payload["stats"]["records"] == 50


def test_validate_dataset_invalid_exit_1_with_located_errors(bad: Path) -> None:
    code, out = run("validate-dataset", str(bad), "--json")
    assert code == 1
    payload = json.loads(out)
    assert payload["valid"] is False
    assert [(e["line"], e["code"]) for e in payload["errors"]] == [
        (2, "empty_line"),
        (3, "text_not_string"),
        (4, "unexpected_key"),
    ]
    assert all(set(e) == {"line", "code", "message"} for e in payload["errors"])
    assert payload["error_counts"] == {"empty_line": 1, "text_not_string": 1, "unexpected_key": 1}


def test_validate_dataset_text_output_is_compiler_style(bad: Path) -> None:
    code, out = run("validate-dataset", str(bad))
    assert code == 1
    lines = out.splitlines()
    assert lines[0].startswith(f"{bad}:2: empty_line: ")
    assert lines[1].startswith(f"{bad}:3: text_not_string: ")
    assert "\x1b[" not in out  # no colour when not on a terminal


def test_validate_dataset_missing_file_exit_2(tmp_path: Path) -> None:
    code, out = run("validate-dataset", str(tmp_path / "nope.jsonl"))
    assert code == 2
    assert "no such dataset file" in out


def test_validate_dataset_with_recipe_warns_on_few_records(good: Path) -> None:
    code, out = run("validate-dataset", str(good), "--recipe", str(LITE), "--json")
    assert code == 0
    payload = json.loads(out)
    assert [w["code"] for w in payload["warnings"]] == ["few_records"]
    assert payload["stats"]["max_length"] == 8192


def test_validate_recipe_json_shape_and_exit_codes() -> None:
    code, out = run("validate-recipe", str(LITE), "--require-paths", "--json")
    assert code == 1
    payload = json.loads(out)
    assert set(payload) == {"path", "valid", "generation", "errors", "warnings", "notes", "recipe"}
    assert {e["field"] for e in payload["errors"]} == {"run.data_s3_path", "run.output_s3_path"}
    assert all(set(e) == {"field", "message"} for e in payload["errors"])

    code, out = run(
        "validate-recipe",
        str(LITE),
        "--set",
        "run.data_s3_path=s3://my-data/jobs/a/train.jsonl",
        "--set",
        "run.output_s3_path=s3://my-output/runs",
        "--require-paths",
        "--json",
    )
    assert code == 0, out
    payload = json.loads(out)
    assert payload["valid"] is True
    assert payload["recipe"]["training_config"]["model"]["optim"]["lr"] == 1e-05


def test_ready_recipes_validate_as_shipped_with_notes() -> None:
    recipes = sorted(str(p) for p in (ROOT / "recipes").glob("*.yaml"))
    code, out = run("validate-recipe", *recipes)
    assert code == 0, out
    assert out.count("note: run.data_s3_path: empty: filled by the pipeline") == len(recipes)
    code, out = run("validate-recipe", *recipes, "--json")
    payload = json.loads(out)
    assert payload["valid"] is True and len(payload["recipes"]) == len(recipes)


def test_validate_recipe_text_output_names_field(tmp_path: Path) -> None:
    recipe = tmp_path / "r.yaml"
    recipe.write_text(LITE.read_text().replace("global_batch_size: 256", "global_batch_size: 100"))
    code, out = run("validate-recipe", str(recipe))
    assert code == 1
    assert f"{recipe}: training_config.global_batch_size: " in out


def test_validate_recipe_bad_set_and_missing_file_exit_2(tmp_path: Path) -> None:
    assert run("validate-recipe", str(LITE), "--set", "no-equals-sign")[0] == 2
    assert run("validate-recipe", str(tmp_path / "missing.yaml"))[0] == 2


def test_estimate_is_the_planner(good: Path) -> None:
    code, out = run("estimate", str(LITE), "--dataset", str(good), "--price-per-instance-hour", "50", "--json")
    assert code == 0, out
    payload = json.loads(out)
    assert payload["tokens"] > 0
    assert payload["cost_usd"] == round(payload["instance_hours"] * 50, 2)


def test_estimate_needs_a_dataset() -> None:
    assert run("estimate", str(LITE))[0] == 2


def test_estimate_refuses_bad_dataset(bad: Path) -> None:
    code, out = run("estimate", str(LITE), "--dataset", str(bad))
    assert code == 1
    assert ":2: empty_line" in out
