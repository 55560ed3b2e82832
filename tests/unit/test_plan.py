"""The planner: tokens -> sequences -> steps -> hours and dollars, consistent with validate-dataset and the seed."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest
from typer.testing import CliRunner

from novacpt.catalog import BY_KEY, MODELS, SEED_MAX_LENGTH, SEED_SAMPLES
from novacpt.plan import PlanInputs, count_doc_separators, make_plan
from novacpt.recipe import validate_recipe_file
from novacpt_cli import app
from tests.conftest import ROOT

runner = CliRunner()
LITE_2 = ROOT / "recipes" / "nova_lite_2_cpt.yaml"
LITE = ROOT / "recipes" / "nova_lite_cpt.yaml"
WORDS = "the of and to in is for on that with as by at from data model training cloud region instance".split()


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def english_corpus(path: Path, megabytes: float, seed: int = 7) -> Path:
    """A JSONL corpus of English-like paragraphs of `megabytes` MB."""
    rng = random.Random(seed)
    target = int(megabytes * 1_000_000)
    with path.open("w", encoding="utf-8") as handle:
        written = 0
        while written < target:
            text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(50, 400))) + "."
            line = json.dumps({"text": text}) + "\n"
            handle.write(line)
            written += len(line)
    return path


def inputs(key: str, *, replicas: int, max_epochs: int | None = None, max_steps: int | None = None) -> PlanInputs:
    return PlanInputs(BY_KEY[key], replicas, 8192, 256, max_epochs, max_steps)


# --- Formulas ------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", [m for m in MODELS if m.generation == "1.0"], ids=lambda m: m.key)
def test_seed_table_is_reproduced(model: object) -> None:
    """100,000 samples of 8,192 tokens at GBS 256 on the seed's instances take the seed's hours."""
    assert hasattr(model, "seed_hours")
    m = BY_KEY[model.key]  # type: ignore[attr-defined]
    sequences = 102_400  # a whole number of batches, so steps x GBS = sequences
    plan = make_plan(inputs(m.key, replicas=m.seed_instances, max_epochs=1), tokens=sequences * 8192, token_estimate="")
    assert plan.sequences == sequences and plan.steps_per_epoch == 400 and plan.max_steps == 400
    assert plan.hours == pytest.approx(m.seed_hours * sequences / SEED_SAMPLES, abs=1e-3)
    assert plan.instance_hours == pytest.approx(plan.hours * m.seed_instances, abs=1e-2)


def test_calibration_is_the_seed_table() -> None:
    assert BY_KEY["micro"].tokens_per_instance_hour == SEED_SAMPLES * SEED_MAX_LENGTH / (4 * 8)
    assert BY_KEY["lite"].tokens_per_instance_hour == SEED_SAMPLES * SEED_MAX_LENGTH / (4 * 16)
    assert BY_KEY["pro"].tokens_per_instance_hour == SEED_SAMPLES * SEED_MAX_LENGTH / (10 * 24)
    assert BY_KEY["lite-2"].tokens_per_instance_hour == BY_KEY["lite"].tokens_per_instance_hour


def test_2_0_formulas_and_clamp() -> None:
    tokens = 1_000_000_007
    plan = make_plan(inputs("lite-2", replicas=8, max_steps=10), tokens=tokens, token_estimate="", epochs=2)
    sequences = math.ceil(tokens / 8192)
    assert plan.sequences == sequences
    assert plan.steps_per_epoch == math.ceil(sequences / 256)
    assert plan.max_steps == math.ceil(2 * sequences / 256)
    assert plan.recipe_run.steps == 10
    assert plan.recipe_run.passes == pytest.approx(10 * 256 / sequences, abs=1e-4)
    rate = BY_KEY["lite-2"].tokens_per_instance_hour
    assert plan.hours == pytest.approx(plan.max_steps * 256 * 8192 / (rate * 8), abs=1e-3)
    tiny = make_plan(inputs("lite-2", replicas=4, max_steps=10), tokens=8192 * 5, token_estimate="")
    assert tiny.max_steps == 10 and "max_steps_clamped" in {w.code for w in tiny.warnings}
    huge = make_plan(inputs("lite-2", replicas=32, max_steps=100_000), tokens=10**14, token_estimate="")
    assert huge.max_steps == 100_000


def test_1_0_steps_follow_max_epochs_and_replicas_scale_hours() -> None:
    plan = make_plan(inputs("lite", replicas=16, max_epochs=3), tokens=8192 * 2560, token_estimate="")
    assert plan.steps_per_epoch == 10 and plan.max_steps == 30 and plan.recipe_run.steps == 30
    doubled = make_plan(inputs("lite", replicas=32, max_epochs=3), tokens=8192 * 2560, token_estimate="")
    assert doubled.hours == pytest.approx(plan.hours / 2, abs=1e-3)
    assert doubled.instance_hours == pytest.approx(plan.instance_hours, abs=1e-2)


def test_price_gives_dollars_and_non_finite_is_refused() -> None:
    plan = make_plan(
        inputs("lite-2", replicas=8, max_steps=100), tokens=10**9, token_estimate="", price_per_instance_hour=98.32
    )
    assert plan.cost_usd == round(plan.instance_hours * 98.32, 2)
    assert plan.recipe_run.cost_usd == round(plan.recipe_run.instance_hours * 98.32, 2)
    for bad in (math.inf, math.nan, 0.0, -1.0):
        with pytest.raises(ValueError, match="finite number above 0"):
            make_plan(
                inputs("lite", replicas=16, max_epochs=1), tokens=1, token_estimate="", price_per_instance_hour=bad
            )


@pytest.mark.parametrize(
    ("steps", "epochs", "code"),
    [
        (10, 2.0, "max_steps_below_pass"),
        (149, 1.0, "max_steps_below_pass"),
        (150, 1.0, None),
        (75, 0.5, None),
        (74, 0.5, "max_steps_below_pass"),
        (750, 2.0, None),
        (751, 2.0, "too_many_passes"),
    ],
)
def test_pass_warnings(steps: int, epochs: float, code: str | None) -> None:
    tokens = 8192 * 256 * 150  # one pass = 150 steps
    plan = make_plan(inputs("lite-2", replicas=4, max_steps=steps), tokens=tokens, token_estimate="", epochs=epochs)
    codes = {w.code for w in plan.warnings} & {"max_steps_below_pass", "too_many_passes"}
    assert codes == ({code} if code else set())
    if code == "max_steps_below_pass":
        assert f"set it to {math.ceil(150 * epochs)} for {epochs:g} pass(es)" in plan.warnings[0].message


def test_few_tokens_per_replica_warns() -> None:
    small = make_plan(inputs("lite-2", replicas=32, max_steps=10), tokens=10_000_000, token_estimate="")
    assert "few_tokens_per_replica" in {w.code for w in small.warnings}
    big = make_plan(inputs("lite-2", replicas=4, max_steps=10), tokens=10**11, token_estimate="")
    assert "few_tokens_per_replica" not in {w.code for w in big.warnings}


def test_doc_separator_count_crosses_chunk_boundaries(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    lines = [{"text": "plain"}, {"text": "a [DOC] b [DOC] c"}, {"text": "x" * 30 + "[DOC]"}, {"text": "[DO C]"}]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    for chunk in (1, 2, 3, 5, 7, 64, 1 << 20):
        assert count_doc_separators(path, chunk_bytes=chunk) == 2, chunk
    plan = make_plan(inputs("lite-2", replicas=4, max_steps=10), tokens=10, token_estimate="", doc_separators=2)
    assert any(w.code == "doc_separator_in_text" and "2 text(s)" in w.message for w in plan.warnings)


# --- cpt plan ------------------------------------------------------------------------------------


def test_plan_json_matches_validate_dataset_and_the_formulas(tmp_path: Path) -> None:
    corpus = english_corpus(tmp_path / "train.jsonl", 2)
    code, out = run("validate-dataset", str(corpus), "--json")
    assert code == 0, out
    tokens = json.loads(out)["stats"]["estimated_tokens"]
    code, out = run("plan", str(LITE_2), "--dataset", str(corpus), "--epochs", "2", "--json")
    assert code == 0, out
    plan = json.loads(out)
    assert plan["tokens"] == tokens
    assert plan["sequences"] == math.ceil(tokens / 8192)
    assert plan["steps_per_epoch"] == math.ceil(plan["sequences"] / 256)
    assert plan["max_steps"] == max(10, math.ceil(2 * plan["sequences"] / 256))
    for key in ("hours", "instance_hours", "cost_usd", "warnings", "recipe_run", "assumptions"):
        assert key in plan
    json.dumps(plan, allow_nan=False)


def test_plan_warns_that_the_official_max_steps_is_a_sliver(tmp_path: Path) -> None:
    """A small-scale stand-in for the 200 MB corpus (a manual check): max_steps 10 of 32 x 1024 tokens
    on a 2 MB corpus (about 500,000 tokens) covers part of one pass."""
    corpus = english_corpus(tmp_path / "train.jsonl", 2)
    recipe = tmp_path / "official-like.yaml"
    text = LITE_2.read_text().replace("max_steps: 1000", "max_steps: 10")
    recipe.write_text(
        text.replace("global_batch_size: 256", "global_batch_size: 32").replace("max_length: 8192", "max_length: 1024")
    )
    code, out = run("plan", str(recipe), "--dataset", str(corpus), "--epochs", "2", "--json")
    assert code == 0, out
    plan = json.loads(out)
    below = [w for w in plan["warnings"] if w["code"] == "max_steps_below_pass"]
    assert below and f"set it to {plan['max_steps']} for 2 pass(es)" in below[0]["message"]
    assert plan["recipe_run"]["steps"] == 10 and plan["recipe_run"]["passes"] < 1
    assert plan["max_steps"] == math.ceil(2 * plan["sequences"] / 32)
    code, text = run("plan", str(recipe), "--dataset", str(corpus), "--epochs", "2")
    assert code == 0 and "max_steps_below_pass" in text and "suggested" in text


def test_plan_of_a_1_0_recipe(tmp_path: Path) -> None:
    corpus = english_corpus(tmp_path / "train.jsonl", 1)
    code, out = run("plan", str(LITE), "--dataset", str(corpus), "--price-per-instance-hour", "98.32", "--json")
    assert code == 0, out
    plan = json.loads(out)
    recipe = validate_recipe_file(LITE, require_s3_paths=False).model
    assert recipe is not None and recipe.max_epochs is not None
    assert plan["generation"] == "1.0" and plan["max_steps"] == recipe.max_epochs * plan["steps_per_epoch"]
    assert plan["cost_usd"] == round(plan["instance_hours"] * 98.32, 2)


@pytest.mark.parametrize("price", ["inf", "nan", "-5", "0"])
def test_plan_refuses_a_non_finite_price_with_exit_2(tmp_path: Path, price: str) -> None:
    corpus = english_corpus(tmp_path / "train.jsonl", 0.01)
    result = runner.invoke(
        app, ["plan", str(LITE_2), "--dataset", str(corpus), "--price-per-instance-hour", price, "--json"]
    )
    assert result.exit_code == 2
    assert "Infinity" not in result.stdout and "NaN" not in result.stdout


def test_plan_of_an_invalid_recipe_or_dataset_exits_1(tmp_path: Path) -> None:
    corpus = english_corpus(tmp_path / "train.jsonl", 0.01)
    bad_recipe = tmp_path / "r.yaml"
    bad_recipe.write_text(LITE_2.read_text().replace("replicas: 8", "replicas: 6"))
    code, out = run("plan", str(bad_recipe), "--dataset", str(corpus), "--json")
    assert code == 1 and json.loads(out)["valid"] is False
    bad_data = tmp_path / "bad.jsonl"
    bad_data.write_text('{"text": 3}\n')
    code, out = run("plan", str(LITE_2), "--dataset", str(bad_data), "--json")
    assert code == 1 and json.loads(out)["valid"] is False


def test_plan_reports_doc_separators(tmp_path: Path) -> None:
    corpus = tmp_path / "train.jsonl"
    corpus.write_text(json.dumps({"text": "one [DOC] two"}) + "\n" + json.dumps({"text": "three"}) + "\n")
    code, out = run("plan", str(LITE_2), "--dataset", str(corpus), "--json")
    assert code == 0, out
    assert any(w["code"] == "doc_separator_in_text" for w in json.loads(out)["warnings"])
