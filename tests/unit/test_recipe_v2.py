"""Nova 2.0 recipes: the official file validates, each typical mistake is refused at its dotted path,
keys of the other generation are named as such, hostile text and huge integers are refused."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from novacpt.catalog import BY_KEY, IMAGE_ACCOUNTS, MODELS, training_image_uri
from novacpt.recipe import (
    Nova2CptRecipe,
    NovaCptRecipe,
    RecipeReport,
    checkpoint_account,
    checkpoint_account_problem,
    checkpoint_problem,
    validate_recipe_bytes,
    validate_recipe_file,
)
from novacpt.recipe.model import recipe_class
from tests.conftest import ROOT, SHARED_REFERENCE
from tests.unit.test_recipe import VALID

READY_V2 = ROOT / "recipes" / "nova_lite_2_cpt.yaml"
OFFICIAL_V2 = SHARED_REFERENCE / "nova-recipes" / "nova_lite_2_0_p5x8_gpu_pretrain.yaml"
PATHS = {"run.data_s3_path": "s3://my-bucket/data/train.jsonl", "run.output_s3_path": "s3://my-out/"}
ESCROW = "s3://customer-escrow-111122223333-smtj-a1b2c3/nova-run/step_100"

VALID_V2: dict[str, Any] = {
    "run": {
        "name": "nova-lite-2-cpt",
        "model_type": "amazon.nova-2-lite-v1:0:256k",
        "model_name_or_path": "nova-lite-2/prod",
        "replicas": 8,
        "data_s3_path": "s3://my-bucket/data/train.jsonl",
        "output_s3_path": "s3://my-out/runs",
    },
    "training_config": {
        "task_type": "cpt",
        "max_length": 8192,
        "global_batch_size": 256,
        "trainer": {"max_steps": 10, "val_check_interval": 10, "limit_val_batches": 2},
        "model": {"hidden_dropout": 0.0, "attention_dropout": 0.0},
        "optim": {
            "optimizer": "adam",
            "lr": 1e-5,
            "name": "distributed_fused_adam",
            "adam_w_mode": True,
            "eps": 1e-6,
            "weight_decay": 0.0,
            "adam_beta1": 0.9,
            "adam_beta2": 0.95,
            "sched": {"warmup_steps": 10, "constant_steps": 0, "min_lr": 1e-6},
        },
    },
}


def check(mapping: Any, **kwargs: Any) -> RecipeReport:
    return validate_recipe_bytes(yaml.safe_dump(mapping, sort_keys=False), **kwargs)


def edited(path: str, value: Any) -> dict[str, Any]:
    """VALID_V2 with the dotted `path` set to `value` (a value of `...` deletes the key)."""
    mapping = copy.deepcopy(VALID_V2)
    *parents, leaf = path.split(".")
    target = mapping
    for part in parents:
        target = target[part]
    if value is ...:
        del target[leaf]
    else:
        target[leaf] = value
    return mapping


def test_valid_v2_mapping_is_a_nova_2_recipe() -> None:
    report = check(VALID_V2)
    assert report.valid, report.errors
    assert isinstance(report.model, Nova2CptRecipe)
    assert report.model.generation == "2.0" and report.model.max_epochs is None
    assert report.model.nova_model is BY_KEY["lite-2"]


def test_official_2_0_recipe_validates_with_paths_filled() -> None:
    if not OFFICIAL_V2.is_file():
        pytest.skip(f"official recipe {OFFICIAL_V2} is absent (../shared is outside this repository)")
    report = validate_recipe_file(OFFICIAL_V2, overrides=PATHS)
    assert report.valid, report.errors
    assert report.model is not None and report.model.generation == "2.0"
    assert report.recipe is not None and report.recipe["training_config"]["optim"]["adam_beta2"] == 0.95


def test_ready_2_0_recipe_validates_as_shipped() -> None:
    report = validate_recipe_file(READY_V2, require_s3_paths=False)
    assert report.valid, report.errors
    assert report.model is not None and report.model.run.model_type == BY_KEY["lite-2"].model_type


# --- Typical 2.0 mistakes: each one error at its dotted path ----------------------------------

MISTAKES = [
    ("run.replicas", 6, "run.replicas", "must be one of 4, 8, 16, 32 for Nova 2.0 Lite"),
    ("training_config.trainer.max_steps", 0, "training_config.trainer.max_steps", "from 10 to 100,000"),
    ("training_config.trainer.max_steps", 250000, "training_config.trainer.max_steps", "from 10 to 100,000"),
    ("training_config.trainer.max_epochs", 2, "training_config.trainer.max_epochs", "Nova 2.0 counts steps"),
    ("training_config.optim.betas", [0.9, 0.95], "training_config.optim.betas", "adam_beta1 and adam_beta2"),
    ("training_config.model.ffn_dropout", 0.0, "training_config.model.ffn_dropout", "Nova 2.0 has no ffn_dropout"),
    ("run.model_name_or_path", "nova-lite/prod", "run.model_name_or_path", "is the Nova 1.0 Lite base model"),
    ("training_config.task_type", "sft", "training_config.task_type", "must be cpt"),
    ("training_config.optim.sched.min_lr", 1e-5, "training_config.optim.sched.min_lr", "must be lower than lr"),
    ("training_config.optim.sched.min_lr", 2e-5, "training_config.optim.sched.min_lr", "must be lower than lr"),
    ("training_config.optim.adam_betta1", 0.9, "training_config.optim.adam_betta1", "did you mean adam_beta1?"),
    ("training_config.optim.weight_decy", 0.0, "training_config.optim.weight_decy", "did you mean weight_decay?"),
    ("training_config.optim.optimizer", "sgd", "training_config.optim.optimizer", "must be adam"),
    ("training_config.optim.adam_beta2", 1.0, "training_config.optim.adam_beta2", "below 1"),
    ("training_config.trainer.val_check_interval", 1.5, "training_config.trainer.val_check_interval", "fraction"),
    ("training_config.trainer.val_check_interval", 0, "training_config.trainer.val_check_interval", "step count"),
    ("training_config.trainer.limit_val_batches", -1, "training_config.trainer.limit_val_batches", "batch count"),
    ("training_config.trainer.val_check_interval", "x", "training_config.trainer.val_check_interval", "(text)"),
    ("training_config.trainer.limit_val_batches", [1], "training_config.trainer.limit_val_batches", "(a list)"),
    ("training_config.task_type", ..., "training_config.task_type", "missing"),
    ("training_config.trainer.max_steps", ..., "training_config.trainer.max_steps", "missing"),
]


@pytest.mark.parametrize(("path", "value", "field", "fragment"), MISTAKES)
def test_typical_2_0_mistake_is_one_error_at_its_path(path: str, value: Any, field: str, fragment: str) -> None:
    report = check(edited(path, value))
    assert [e.field for e in report.errors] == [field], report.errors
    assert fragment in report.errors[0].message
    assert report.model is None


def test_optim_inside_model_is_named_as_the_1_0_layout() -> None:
    mapping = copy.deepcopy(VALID_V2)
    mapping["training_config"]["model"]["optim"] = mapping["training_config"].pop("optim")
    messages = {e.field: e.message for e in check(mapping).errors}
    assert "optim sits beside model: move it to training_config.optim" in messages["training_config.model.optim"]
    assert "missing" in messages["training_config.optim"]


@pytest.mark.parametrize(("value", "ok"), [(10, True), (1, True), (0.25, True), (1.0, True), (0.0, False)])
def test_val_check_interval_takes_a_count_or_a_fraction(value: float, ok: bool) -> None:
    assert check(edited("training_config.trainer.val_check_interval", value)).valid is ok


@pytest.mark.parametrize(
    ("value", "fragment"),
    [(1_000_000, None), (1_000_001, "a step count must be from 1 to 1,000,000")],
)
def test_val_check_interval_step_count_bound(value: int, fragment: str | None) -> None:
    report = check(edited("training_config.trainer.val_check_interval", value))
    assert report.valid is (fragment is None)
    if fragment:
        assert fragment in report.errors[0].message


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (0, None),
        (0.0, None),
        (0.5, None),
        (1.0, None),
        (1_000_000, None),
        (1.5, "a fraction must be from 0 to 1.0"),
        (-0.5, "a fraction must be from 0 to 1.0"),
        (1_000_001, "a batch count must be from 0 to 1,000,000"),
    ],
)
def test_limit_val_batches_takes_a_count_or_a_fraction(value: float, fragment: str | None) -> None:
    report = check(edited("training_config.trainer.limit_val_batches", value))
    if fragment is None:
        assert report.valid, report.errors
    else:
        assert [e.field for e in report.errors] == ["training_config.trainer.limit_val_batches"]
        assert fragment in report.errors[0].message


@pytest.mark.parametrize(
    ("run", "training_config", "generation"),
    [
        ({"model_type": "amazon.nova-2-lite-v1:0:256k"}, {"trainer": {"max_epochs": 1}}, "2.0"),
        ({"model_type": "amazon.nova-lite-v1:0:300k"}, {"task_type": "cpt", "optim": {}}, "1.0"),
        ({"model_type": "amazon.nova-premier-v1:0"}, {"task_type": "cpt"}, "2.0"),
        ({"model_type": "amazon.nova-premier-v1:0"}, {"optim": {}}, "2.0"),
        ({"model_type": "amazon.nova-premier-v1:0"}, {"trainer": {"max_steps": 10}}, "2.0"),
        ({"model_type": "amazon.nova-premier-v1:0"}, {"trainer": {"max_epochs": 1}}, "1.0"),
        ({"model_type": "amazon.nova-premier-v1:0"}, {"trainer": ["max_steps"]}, "1.0"),
        ({"model_type": 5}, {"task_type": "cpt"}, "2.0"),
        ({"model_type": ["amazon.nova-lite-v1:0:300k"]}, {"task_type": "cpt"}, "2.0"),
        ("not a mapping", {"task_type": "cpt"}, "2.0"),
        ({}, "not a mapping", "1.0"),
        ({}, {}, "1.0"),
    ],
)
def test_a_recipe_is_checked_as_its_model_type_else_as_its_layout(
    run: Any, training_config: Any, generation: str
) -> None:
    root = recipe_class({"run": run, "training_config": training_config})
    assert root is (Nova2CptRecipe if generation == "2.0" else NovaCptRecipe)


def test_an_unknown_model_type_with_the_2_0_layout_is_checked_as_2_0() -> None:
    mapping = edited("run.model_type", "amazon.nova-premier-v1:0")
    fields = [e.field for e in check(mapping).errors]
    assert fields == ["run.model_type"]


def test_lr_outside_the_recommended_range_is_warned_at_the_2_0_path() -> None:
    mapping = edited("training_config.optim.lr", 0.5)
    report = check(mapping)
    assert report.valid
    assert [w.field for w in report.warnings] == ["training_config.optim.lr"]


def test_1_0_recipe_with_2_0_keys_names_the_generation() -> None:
    text = (ROOT / "recipes" / "nova_lite_cpt.yaml").read_text()
    text = text.replace("max_epochs: 1", "max_steps: 100")
    messages = {e.field: e.message for e in validate_recipe_bytes(text, require_s3_paths=False).errors}
    assert (
        "Nova 1.0 counts epochs: use training_config.trainer.max_epochs"
        in messages["training_config.trainer.max_steps"]
    )


def test_every_error_at_once_in_a_2_0_recipe() -> None:
    mapping = edited("run.replicas", 6)
    mapping["training_config"]["trainer"]["max_steps"] = 0
    mapping["training_config"]["model"]["ffn_dropout"] = 0.0
    mapping["training_config"]["optim"]["sched"]["min_lr"] = 0.5
    fields = {e.field for e in check(mapping).errors}
    assert fields == {
        "run.replicas",
        "training_config.trainer.max_steps",
        "training_config.model.ffn_dropout",
        "training_config.optim.sched.min_lr",
    }


@pytest.mark.parametrize("generation", ["1.0", "2.0"])
def test_the_models_alone_refuse_what_joins_two_fields(generation: str) -> None:
    mapping = copy.deepcopy(VALID if generation == "1.0" else VALID_V2)
    optim = mapping["training_config"]["model"]["optim"] if generation == "1.0" else mapping["training_config"]["optim"]
    mapping["run"].update(model_name_or_path="nova-pro/prod", replicas=6)
    optim["sched"]["min_lr"] = 0.5
    model = NovaCptRecipe if generation == "1.0" else Nova2CptRecipe
    with pytest.raises(ValidationError) as caught:
        model.model_validate(mapping)
    [error] = caught.value.errors()
    optim_path = "training_config.model.optim" if generation == "1.0" else "training_config.optim"
    for fragment in (
        "run.model_name_or_path: 'nova-pro/prod' is not allowed",
        "(nova-pro/prod is the Nova 1.0 Pro base model)",
        "run.replicas: 6 is not allowed: must be one of 4, 8, 16, 32",
        f"{optim_path}.sched.min_lr: 0.5 is not allowed: must be lower than lr (1e-05)",
    ):
        assert fragment in error["msg"]


# --- Hostile text and integers ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('"x\\0y"', "control character (U+0000 at position 1)"),
        ('"x\\ty"', "control character (U+0009"),
        ('"x\\ud800y"', "lone surrogate (U+D800"),
    ],
)
@pytest.mark.parametrize("key", ["mlflow_run_name", "mlflow_experiment_name"])
def test_recipe_text_refuses_control_characters_and_lone_surrogates(key: str, text: str, fragment: str) -> None:
    body = yaml.safe_dump(VALID_V2, sort_keys=False).replace("run:\n", f"run:\n  {key}: {text}\n", 1)
    report = validate_recipe_bytes(body)
    assert [e.field for e in report.errors] == [f"run.{key}"]
    assert fragment in report.errors[0].message
    assert "\\" in report.errors[0].message or "x" in report.errors[0].message


def test_key_with_a_lone_surrogate_is_named() -> None:
    report = validate_recipe_bytes('run:\n  "k\\udc00": 1\n')
    assert report.errors[0].field == "run"
    assert "'k\\udc00' is not allowed: text must not hold a lone surrogate" in report.errors[0].message


def test_raw_control_character_is_a_located_file_error() -> None:
    report = validate_recipe_bytes("run:\n  name: a\x01\n")
    assert [e.field for e in report.errors] == [None]
    assert "control character U+0001 at line 2, column 10" in report.errors[0].message


def test_huge_integer_is_refused_with_a_short_message() -> None:
    body = yaml.safe_dump(VALID_V2, sort_keys=False).replace("constant_steps: 0", "constant_steps: " + "9" * 4000)
    report = validate_recipe_bytes(body)
    assert [e.field for e in report.errors] == ["training_config.optim.sched.constant_steps"]
    assert "an integer of 4000 digits is not allowed" in report.errors[0].message
    assert len(report.errors[0].message) < 200
    assert report.to_json_dict()["recipe"]["training_config"]["optim"]["sched"]["constant_steps"].startswith("an")


@pytest.mark.parametrize(
    "path",
    [
        "training_config.optim.sched.constant_steps",
        "training_config.trainer.val_check_interval",
        "training_config.trainer.limit_val_batches",
        "run.replicas",
    ],
)
def test_integers_have_bounds(path: str) -> None:
    assert not check(edited(path, 10**12)).valid


# --- Checkpoints: run.model_name_or_path as an S3 path -----------------------------------------


def test_escrow_checkpoint_is_allowed_and_other_buckets_are_refused() -> None:
    assert check(edited("run.model_name_or_path", ESCROW)).valid
    report = check(edited("run.model_name_or_path", "s3://attacker-owned-bucket/ckpt/"))
    assert [e.field for e in report.errors] == ["run.model_name_or_path"]
    assert "customer-escrow" in report.errors[0].message and "attacker-owned-bucket" in report.errors[0].message


@pytest.mark.parametrize(
    ("uri", "account"),
    [
        (ESCROW, "111122223333"),
        ("s3://customer-escrow-111122223333/x", "111122223333"),
        ("s3://customer-escrow-11112222333/x", None),
        ("s3://customer-escrow-111122223333x/x", None),
        ("s3://my-customer-escrow-111122223333/x", None),
        ("https://customer-escrow-111122223333/x", None),
    ],
)
def test_checkpoint_account(uri: str, account: str | None) -> None:
    assert checkpoint_account(uri) == account
    assert (checkpoint_problem(uri) is None) is (account is not None)


def test_checkpoint_of_another_account_is_named() -> None:
    assert checkpoint_account_problem(ESCROW, "111122223333") is None
    problem = checkpoint_account_problem(ESCROW, "999988887777")
    assert problem is not None and "customer-escrow-999988887777" in problem and "111122223333" in problem


def test_checkpoint_outside_an_escrow_bucket_is_named_by_its_bucket() -> None:
    problem = checkpoint_account_problem("s3://attacker-owned-bucket/ckpt/", "111122223333")
    assert problem is not None and "'attacker-owned-bucket'" in problem and "manifest.json" in problem


# --- The catalogue ------------------------------------------------------------------------------


def test_micro_takes_up_to_32_replicas() -> None:
    assert BY_KEY["micro"].replicas == (2, 4, 8, 16, 32)
    text = (ROOT / "recipes" / "nova_micro_cpt.yaml").read_text()
    for replicas in (16, 32):
        report = validate_recipe_bytes(text, overrides={"run.replicas": replicas}, require_s3_paths=False)
        assert report.valid, report.errors


def test_official_replica_comments_match_the_catalogue() -> None:
    folder = SHARED_REFERENCE / "nova-recipes"
    if not folder.is_dir():
        pytest.skip(f"official recipes not found at {folder} (../shared is absent)")
    for model in MODELS:
        text = (folder / f"{model.official_recipe}.yaml").read_text()
        comment = next(line for line in text.splitlines() if line.strip().startswith("replicas:"))
        allowed = tuple(int(n) for n in comment.split("allowed values are")[1].replace(",", " ").split())
        assert allowed == model.replicas, model.key
        assert model.model_type in text and model.base_path in text


def test_images_follow_the_launcher_parameters() -> None:
    path = SHARED_REFERENCE / "nova-launcher" / "nova_regional_parameters.json"
    if not path.is_file():
        pytest.skip(f"{path} is absent (../shared is outside this repository)")
    parameters = json.loads(path.read_text())
    for model in MODELS:
        images = parameters[model.official_recipe]["k8s"]["container_image"]["prod"]
        assert set(images) == set(IMAGE_ACCOUNTS), model.key
        for region, uri in images.items():
            assert training_image_uri(model, region) == uri
