"""Tests of novacpt.recipe: loading, every field rule (good and bad), overrides and robustness."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from novacpt.catalog import MODELS
from novacpt.recipe import (
    MAX_BYTES,
    NovaCptRecipe,
    RecipeIssue,
    RecipeReport,
    apply_overrides,
    parse_set_option,
    validate_recipe_bytes,
    validate_recipe_file,
)
from novacpt.recipe.validate import validate_loaded_recipe
from novacpt.recipe.yaml_loader import load_recipe_yaml
from tests.conftest import ROOT, SHARED_REFERENCE

READY = ROOT / "recipes"
OFFICIAL = SHARED_REFERENCE / "nova-recipes"
PATHS = {"run.data_s3_path": "s3://my-bucket/data/train.jsonl", "run.output_s3_path": "s3://my-out/"}

VALID: dict[str, Any] = {
    "run": {
        "name": "nova-lite-cpt",
        "model_type": "amazon.nova-lite-v1:0:300k",
        "model_name_or_path": "nova-lite/prod",
        "replicas": 16,
        "data_s3_path": "s3://my-bucket/data/train.jsonl",
        "output_s3_path": "s3://my-out/runs",
    },
    "training_config": {
        "max_length": 8192,
        "global_batch_size": 256,
        "trainer": {"max_epochs": 1},
        "model": {
            "hidden_dropout": 0.0,
            "attention_dropout": 0.0,
            "ffn_dropout": 0.0,
            "optim": {
                "lr": 1e-5,
                "name": "distributed_fused_adam",
                "adam_w_mode": True,
                "eps": 1e-6,
                "weight_decay": 0.0,
                "betas": [0.9, 0.999],
                "sched": {"warmup_steps": 10, "constant_steps": 0, "min_lr": 1e-6},
            },
        },
    },
}


def with_value(path: str, value: Any) -> dict[str, Any]:
    """A copy of VALID with the dotted `path` set to `value`."""
    mapping = copy.deepcopy(VALID)
    *parents, leaf = path.split(".")
    target = mapping
    for part in parents:
        target = target[part]
    target[leaf] = value
    return mapping


def check(mapping: Any, **kwargs: Any) -> RecipeReport:
    return validate_recipe_bytes(yaml.safe_dump(mapping, sort_keys=False), **kwargs)


def only_error(report: RecipeReport) -> RecipeIssue:
    assert len(report.errors) == 1, report.errors
    return report.errors[0]


def official(name: str) -> Path:
    path = OFFICIAL / name
    if not path.is_file():
        pytest.skip(f"official recipe {path} is not present (../shared/reference is outside this repository)")
    return path


# --- Field rules: each path with allowed values and refused ones (with a message fragment) ------

GOOD = [
    ("run.name", "a"),
    ("run.name", "x" * 53),
    ("run.name", "nova-run-2"),
    ("run.model_name_or_path", "s3://customer-escrow-111122223333-smtj-a1b2/run-1/"),
    ("run.replicas", 4),
    ("run.replicas", 32),
    ("run.data_s3_path", "s3://abc/train.jsonl"),
    ("run.data_s3_path", "s3://my.bucket-1/a/b/c.jsonl"),
    ("run.data_s3_path", "s3://" + "a" * 63 + "/x.jsonl"),
    ("run.validation_data_s3_path", "s3://my-bucket/val/v.jsonl"),
    ("run.validation_data_s3_path", ""),
    ("run.output_s3_path", "s3://my-out"),
    ("run.output_s3_path", "s3://my-out/deep/prefix/"),
    ("run.mlflow_experiment_name", "exp"),
    ("run.mlflow_run_name", "run"),
    ("run.mlflow_tracking_uri", ""),
    ("training_config.max_length", 1),
    ("training_config.max_length", 8192),
    ("training_config.global_batch_size", 32),
    ("training_config.global_batch_size", 128),
    ("training_config.trainer.max_epochs", 100),
    ("training_config.model.hidden_dropout", 1),
    ("training_config.model.attention_dropout", 0.5),
    ("training_config.model.ffn_dropout", 1.0),
    ("training_config.model.optim.lr", 1e-4),
    ("training_config.model.optim.adam_w_mode", False),
    ("training_config.model.optim.eps", 1e-8),
    ("training_config.model.optim.weight_decay", 1),
    ("training_config.model.optim.betas", [0, 0.95]),
    ("training_config.model.optim.sched.warmup_steps", 1),
    ("training_config.model.optim.sched.warmup_steps", 20),
    ("training_config.model.optim.sched.constant_steps", 500),
    ("training_config.model.optim.sched.min_lr", 0),
]

BAD = [
    ("run.name", "x" * 54, "at most 53 characters"),
    ("run.name", "My-Run", "DNS-1123"),
    ("run.name", "-run", "DNS-1123"),
    ("run.name", "run-", "DNS-1123"),
    ("run.name", "run_1", "DNS-1123"),
    ("run.name", "1st-run", "starting with a letter"),
    ("run.name", "", "DNS-1123"),
    (
        "run.model_type",
        "amazon.nova-premier-v1:0",
        "must be one of amazon.nova-micro-v1:0:128k, amazon.nova-lite-v1:0:300k, amazon.nova-pro-v1:0:300k, "
        "amazon.nova-2-lite-v1:0:256k",
    ),
    ("run.model_name_or_path", "nova-micro/prod", "must be 'nova-lite/prod' for model_type"),
    ("run.model_name_or_path", "nova/prod", "path of a checkpoint"),
    ("run.model_name_or_path", "s3://Bad_Bucket/ckpt", "bucket name"),
    ("run.replicas", 12, "must be one of 4, 8, 16, 32"),
    ("run.replicas", 0, "an instance count"),
    ("run.data_s3_path", "s3://my-bucket/data/train.json", ".jsonl"),
    ("run.data_s3_path", "s3://my-bucket/.jsonl", ".jsonl"),
    ("run.data_s3_path", "s3://my-bucket/data/train/.jsonl", ".jsonl"),
    ("run.data_s3_path", "s3://my-bucket", ".jsonl"),
    ("run.data_s3_path", "https://my-bucket/train.jsonl", "s3://"),
    ("run.data_s3_path", 0, "0 (an integer) is not allowed: must be an s3://bucket/key.jsonl URI"),
    ("run", 5, "5 (an integer) is not allowed: must be a mapping with the keys name, model_type"),
    ("run.data_s3_path", "s3://my-bucket/my train.jsonl", "spaces"),
    ("run.validation_data_s3_path", "s3://my-bucket/val.txt", ".jsonl"),
    ("run.output_s3_path", "my-out/prefix", "s3://"),
    ("run.output_s3_path", "s3://", "3 to 63"),
    ("run.mlflow_run_name", 5, "5 (an integer) is not allowed: must be text"),
    ("training_config.trainer", None, "null is not allowed: must be a mapping with the keys max_epochs"),
    (
        "training_config.model.optim.sched",
        None,
        "null is not allowed: must be a mapping with the keys warmup_steps, constant_steps, min_lr",
    ),
    ("training_config.max_length", 0, "an integer from 1 to 8192"),
    ("training_config.max_length", 8193, "an integer from 1 to 8192"),
    ("training_config.max_length", 8192.5, "8192.5 (a decimal number) is not allowed"),
    ("training_config.max_length", 4096.0, "4096.0 (a decimal number) is not allowed"),
    ("training_config.max_length", "8192", "'8192' (text) is not allowed: must be an integer"),
    ("training_config.max_length", True, "true (true/false) is not allowed"),
    ("training_config.max_length", False, "false (true/false) is not allowed"),
    ("training_config.max_length", [1, 2], "[1, 2] (a list) is not allowed: must be an integer"),
    ("run.name", {"a": 1}, "{'a': 1} (a mapping) is not allowed: must be a DNS-1123 label"),
    ("training_config.global_batch_size", 100, "100 is not allowed: must be one of 32, 64, 128, 256"),
    ("training_config.global_batch_size", 512, "must be one of 32, 64, 128, 256"),
    ("training_config.trainer.max_epochs", 0, "from 1 to 100"),
    ("training_config.trainer.max_epochs", 101, "from 1 to 100"),
    ("training_config.model.hidden_dropout", -0.1, "from 0 to 1"),
    ("training_config.model.attention_dropout", 1.5, "from 0 to 1"),
    ("training_config.model.ffn_dropout", "0.1", "(text) is not allowed"),
    ("training_config.model.optim.lr", 0, "above 0 and at most 1"),
    ("training_config.model.optim.lr", 1.5, "above 0 and at most 1"),
    ("training_config.model.optim.name", "adam", "distributed_fused_adam"),
    ("training_config.model.optim.adam_w_mode", "yes", "'yes' (text) is not allowed: must be true or false"),
    ("training_config.model.optim.adam_w_mode", 1, "must be true or false"),
    ("training_config.model.optim.eps", 0, "above 0"),
    ("training_config.model.optim.eps", float("inf"), "above 0"),
    ("training_config.model.optim.weight_decay", 1.5, "from 0 to 1"),
    ("training_config.model.optim.weight_decay", -0.5, "from 0 to 1"),
    ("training_config.model.optim.betas", [0.9], "exactly two numbers"),
    ("training_config.model.optim.betas", [0.9, 0.99, 0.999], "exactly two numbers"),
    ("training_config.model.optim.betas", 0.9, "(a decimal number) is not allowed: must be a list"),
    ("training_config.model.optim.sched.warmup_steps", 0, "from 1 to 20"),
    ("training_config.model.optim.sched.warmup_steps", 21, "from 1 to 20"),
    ("training_config.model.optim.sched.constant_steps", -1, "from 0 to 1,000,000"),
    ("training_config.model.optim.sched.min_lr", 1e-5, "1e-05 is not allowed: must be lower than lr (1e-05)"),
    ("training_config.model.optim.sched.min_lr", 0.5, "0.5 is not allowed: must be lower than lr (1e-05)"),
    ("training_config.model.optim.sched.min_lr", -1e-6, "from 0 to 1"),
]


@pytest.mark.parametrize(("path", "value"), GOOD)
def test_allowed_value_passes(path: str, value: Any) -> None:
    report = check(with_value(path, value))
    assert report.valid, report.errors
    assert report.model is not None


@pytest.mark.parametrize(("path", "value", "fragment"), BAD)
def test_refused_value_is_one_error_at_its_path(path: str, value: Any, fragment: str) -> None:
    report = check(with_value(path, value))
    error = only_error(report)
    assert error.field == path
    assert fragment in error.message
    assert "is not allowed" in error.message or "must" in error.message
    assert report.model is None


@pytest.mark.parametrize(
    ("bucket", "valid"),
    [
        ("abc", True),
        ("a" * 63, True),
        ("1-bucket.logs", True),
        ("ab", False),
        ("a" * 64, False),
        ("my_bucket", False),
        ("MyBucket", False),
        ("-bucket", False),
        ("bucket.", False),
        ("my..bucket", False),
        ("192.168.1.1", False),
        ("xn--bucket", False),
        ("bucket-s3alias", False),
        ("bucket--ol-s3", False),
    ],
)
def test_bucket_name_rules(bucket: str, valid: bool) -> None:
    report = check(with_value("run.output_s3_path", f"s3://{bucket}/out"))
    assert report.valid is valid
    if not valid:
        assert bucket in only_error(report).message


def test_betas_items_are_checked_one_by_one() -> None:
    report = check(with_value("training_config.model.optim.betas", [-0.1, 1.0]))
    assert [e.field for e in report.errors] == [
        "training_config.model.optim.betas[0]",
        "training_config.model.optim.betas[1]",
    ]


@pytest.mark.parametrize("model", [m for m in MODELS if m.generation == "1.0"], ids=lambda m: m.key)
def test_replicas_and_base_path_follow_the_catalog(model: Any) -> None:
    run = {"model_type": model.model_type, "model_name_or_path": model.base_path}
    for replicas in model.replicas:
        mapping = with_value("run", {**VALID["run"], **run, "replicas": replicas})
        assert check(mapping).valid
    other = next(m for m in MODELS if m is not model)
    mapping = with_value("run", {**VALID["run"], **run, "model_name_or_path": other.base_path, "replicas": 7})
    assert {e.field for e in check(mapping).errors} == {"run.model_name_or_path", "run.replicas"}


def test_cross_field_rules_are_skipped_when_a_part_is_itself_invalid() -> None:
    report = check(with_value("training_config.model.optim.lr", 5))
    assert [e.field for e in report.errors] == ["training_config.model.optim.lr"]
    assert report.warnings == []


def test_floats_accept_integers_and_normalise_to_float() -> None:
    report = check(with_value("training_config.model.optim.sched.min_lr", 0))
    assert report.valid
    assert report.recipe is not None
    min_lr = report.recipe["training_config"]["model"]["optim"]["sched"]["min_lr"]
    assert min_lr == 0.0 and isinstance(min_lr, float)


# --- Warnings ----------------------------------------------------------------------------------


def test_mlflow_tracking_uri_is_a_warning_not_an_error() -> None:
    report = check(with_value("run.mlflow_tracking_uri", "http://mlflow:5000"))
    assert report.valid
    assert [w.field for w in report.warnings] == ["run.mlflow_tracking_uri"]
    assert "not supported" in report.warnings[0].message
    assert check(VALID).warnings == []
    for blank in ("", "  "):
        assert check(with_value("run.mlflow_tracking_uri", blank)).warnings == []


@pytest.mark.parametrize(("lr", "warned"), [(1e-6, False), (1e-4, False), (5e-7, True), (0.5, True), (1, True)])
def test_lr_outside_recommended_range_warns(lr: float, warned: bool) -> None:
    mapping = with_value("training_config.model.optim.lr", lr)
    mapping["training_config"]["model"]["optim"]["sched"]["min_lr"] = 0
    report = check(mapping)
    assert report.valid
    assert bool(report.warnings) is warned
    if warned:
        assert [w.field for w in report.warnings] == ["training_config.model.optim.lr"]
        assert f"{lr!r} is allowed but outside the recommended range 1e-06 to 0.0001" in report.warnings[0].message


# --- YAML traps --------------------------------------------------------------------------------


def test_exponent_without_dot_reads_as_float() -> None:
    text = (READY / "nova_lite_cpt.yaml").read_text()
    assert "lr: 1e-5 " in text
    report = validate_recipe_bytes(text, require_s3_paths=False)
    assert report.valid, report.errors
    assert report.recipe is not None
    optim = report.recipe["training_config"]["model"]["optim"]
    assert optim["lr"] == 1e-05 and isinstance(optim["lr"], float)
    assert optim["eps"] == 1e-06 and isinstance(optim["eps"], float)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("010", 10),
        ("0x1f", 31),
        ("0o17", 15),
        ("-3", -3),
        (".5", 0.5),
        ("1E3", 1000.0),
        ("-2.5e-3", -0.0025),
        ("True", True),
        ("yes", "yes"),
        ("off", "off"),
        ("~", None),
        ("2024-01-01", "2024-01-01"),
        ("1_000", "1_000"),
    ],
)
def test_scalars_follow_yaml_1_2(text: str, value: Any) -> None:
    parsed = parse_set_option(f"k={text}")[1]
    assert parsed == value and type(parsed) is type(value)


def test_yes_is_text_not_a_boolean() -> None:
    text = yaml.safe_dump(VALID, sort_keys=False).replace("adam_w_mode: true", "adam_w_mode: yes")
    error = only_error(validate_recipe_bytes(text))
    assert error.field == "training_config.model.optim.adam_w_mode"
    assert "'yes' (text)" in error.message


def test_duplicate_keys_are_reported_with_path_and_both_lines() -> None:
    text = "run:\n  name: a\n  replicas: 8\n  replicas: 16\n"
    report = validate_recipe_bytes(text)
    dup = [e for e in report.errors if e.field == "run.replicas"]
    assert len(dup) == 1
    assert "duplicate key 'replicas'" in dup[0].message
    assert "line 3" in dup[0].message and "line 4" in dup[0].message
    assert any(e.field == "training_config" for e in report.errors), "other errors are still collected"


def test_duplicate_keys_are_reported_when_overrides_are_given() -> None:
    text = "run:\n  replicas: 8\n  replicas: 16\n"
    report = validate_recipe_bytes(text, overrides={"run.name": "x"})
    assert "run.replicas" in [e.field for e in report.errors if "duplicate key" in e.message]


def test_unique_keys_give_no_duplicate_error() -> None:
    assert not any("duplicate" in e.message for e in check(VALID).errors)


def duplicates(text: str) -> list[str | None]:
    return [e.field for e in validate_recipe_bytes(text).errors if "duplicate key" in e.message]


def test_duplicate_keys_are_reported_in_file_order() -> None:
    text = "run:\n  replicas: 8\n  replicas: 16\ntraining_config:\n  max_length: 1\n  max_length: 2\n"
    assert duplicates(text) == ["run.replicas", "training_config.max_length"]


@pytest.mark.parametrize(
    ("text", "fields"),
    [
        ("a: &a {x: 1, x: 2}\nb: *a\nc: *a\n", ["a.x"]),
        ("a: [1, {x: 1, x: 2}]\n", ["a[1].x"]),
        ('run:\n  "1": a\n  1: b\n', []),
        ("d1: &d1 {max_epochs: 1}\nd2: &d2 {x: 1}\nt:\n  <<: *d1\n  <<: *d2\n", []),
        ("d: &d {y: 1}\nt:\n  a: {x: 1, x: 2}\n  <<: *d\n", ["t.a.x"]),
        ("d: &d {y: 1}\nt:\n  <<: *d\n  a: {x: 1, x: 2}\n", ["t.a.x"]),
    ],
)
def test_duplicate_keys_are_named_once_where_they_are_written(text: str, fields: list[str]) -> None:
    assert duplicates(text) == fields


def test_a_duplicated_section_skips_the_checks_on_its_values() -> None:
    text = "run:\n  name: first\n" + yaml.safe_dump(VALID, sort_keys=False)
    report = validate_recipe_bytes(text, max_replicas=8, model_type="amazon.nova-micro-v1:0:128k")
    assert [e.field for e in report.errors] == ["run"]
    assert "duplicate key 'run'" in report.errors[0].message


def test_list_items_are_located_by_index() -> None:
    report = check(with_value("training_config.model.optim.betas", [0.5, "x"]))
    assert [e.field for e in report.errors] == ["training_config.model.optim.betas[1]"]


@pytest.mark.parametrize(
    ("path", "key", "suggestion"),
    [
        ("training_config.trainer", "max_epoch", "did you mean max_epochs?"),
        ("run", "replica", "did you mean replicas?"),
        ("training_config", "optim", "move it to training_config.model.optim"),
        ("training_config.model.optim.sched", "zzz", "'zzz'; allowed keys here: warmup_steps, constant_steps, min_lr"),
        ("run", "lr", "(lr belongs at training_config.model.optim.lr);"),
    ],
)
def test_unknown_keys_are_errors_with_suggestions(path: str, key: str, suggestion: str) -> None:
    mapping = copy.deepcopy(VALID)
    section = mapping
    for part in path.split("."):
        section = section[part]
    section[key] = 1
    error = only_error(check(mapping))
    assert error.field == f"{path}.{key}"
    assert f"unknown key '{key}'" in error.message
    assert suggestion in error.message
    if key == "zzz":
        assert "did you mean" not in error.message


def test_non_text_keys_are_errors() -> None:
    text = yaml.safe_dump(VALID, sort_keys=False) + "3: x\n"
    error = only_error(validate_recipe_bytes(text))
    assert error.field == "3"
    assert "keys must be text" in error.message


def test_non_text_key_in_a_section_is_named_with_the_keys_allowed_there() -> None:
    text = yaml.safe_dump(VALID, sort_keys=False).replace("      sched:\n", "      sched:\n        3: x\n")
    error = only_error(validate_recipe_bytes(text))
    assert error.field == "training_config.model.optim.sched.3"
    assert error.message.startswith("key 3 is not allowed")
    assert "(allowed keys here: warmup_steps, constant_steps, min_lr)" in error.message


def test_billion_laughs_fails_fast_with_a_clear_error() -> None:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 10):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    report = validate_recipe_bytes("\n".join(lines))  # 9**10 strings if expanded: it must stop, not hang
    assert only_error(report).field is None
    assert "10,000" in report.errors[0].message


def file_errors(data: str | bytes) -> list[str]:
    return [e.message for e in validate_recipe_bytes(data).errors if e.field is None]


def aliased(copies: int, items: int) -> str:
    """A mapping of `copies` keys, each the same list of `items` numbers: 1 + copies * (1 + items) nodes."""
    return "a: &a [" + ", ".join(["1"] * items) + "]\n" + "".join(f"b{i}: *a\n" for i in range(1, copies))


def nested_alias(inner: int, outer: int) -> str:
    """A list nested `inner` deep, aliased inside a list nested `outer` deep."""
    return "a: &a " + "[" * inner + "1" + "]" * inner + "\nb: " + "[" * outer + "*a" + "]" * outer + "\n"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[" + "1," * 9999 + "]", "not a list"),
        ("[" + "1," * 10000 + "]", "has more than 10,000 YAML nodes"),
        ("[" * 64 + "]" * 64, "not a list"),
        ("[" * 65 + "]" * 65, "is nested more than 64 levels deep"),
        ("[[1, " + "[" * 63 + "]" * 63 + "]]", "is nested more than 64 levels deep"),
        (aliased(9, 1110), None),
        (aliased(10, 999), "expands to more than 10,000 YAML nodes through aliases"),
        (nested_alias(40, 23), None),
        (nested_alias(40, 24), "is nested more than 64 levels deep through aliases"),
    ],
)
def test_size_and_depth_bounds_are_exact(text: str, fragment: str | None) -> None:
    errors = file_errors(text)
    if fragment is None:
        assert errors == []
    else:
        assert len(errors) == 1 and fragment in errors[0]


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"- a\n- b\n", "must be a mapping with run and training_config, not a list"),
        (b"42", "must be a mapping with run and training_config, not the single value 42"),
        (b"run: \xff", "is not valid UTF-8 (bad byte at offset 5)"),
        ("run: \udc80", "has an invalid character at position 5"),
        ("#" + "\u00e9" * (MAX_BYTES // 2), "larger than the 1,048,576-byte (1 MiB) limit"),
    ],
)
def test_unusable_documents_say_what_they_are(data: str | bytes, fragment: str) -> None:
    assert [fragment in message for message in file_errors(data)] == [True]


def test_a_byte_order_mark_is_allowed() -> None:
    assert validate_recipe_bytes(b"\xef\xbb\xbf" + yaml.safe_dump(VALID, sort_keys=False).encode()).valid


@pytest.mark.parametrize("data", [b"", b"run: [", b"run: 5", yaml.safe_dump(VALID).encode()])
def test_the_report_names_its_source(data: bytes) -> None:
    assert validate_recipe_bytes(data, source="mine.yaml").source == "mine.yaml"


def test_an_unusable_document_has_no_warnings_or_notes() -> None:
    report = validate_recipe_bytes(b"run: [")
    assert (report.warnings, report.notes, report.recipe, report.model) == ([], [], None, None)


def test_a_loaded_document_is_validated_with_the_same_defaults() -> None:
    loaded = load_recipe_yaml(yaml.safe_dump(with_value("run.data_s3_path", ""), sort_keys=False))
    report = validate_loaded_recipe(loaded)
    assert report.source == "recipe.yaml"
    assert only_error(report).field == "run.data_s3_path"


def test_the_default_source_is_recipe_yaml() -> None:
    report = validate_recipe_bytes(b"")
    assert report.source == "recipe.yaml"
    assert only_error(report).message == "recipe.yaml is empty (only comments or blank lines)"


def test_an_invalid_recipe_still_reports_its_warnings_and_notes() -> None:
    mapping = with_value("run.mlflow_tracking_uri", "http://mlflow:5000")
    mapping["run"]["data_s3_path"] = ""
    mapping["training_config"]["max_length"] = 0
    report = check(mapping, require_s3_paths=False)
    assert [e.field for e in report.errors] == ["training_config.max_length"]
    assert [w.field for w in report.warnings] == ["run.mlflow_tracking_uri"]
    assert [n.field for n in report.notes] == ["run.data_s3_path"]
    assert "filled by the pipeline from the drop folder's train.jsonl" in report.notes[0].message


def test_small_aliases_and_merge_keys_still_work() -> None:
    text = "x_defaults: &d {max_epochs: 2}\n" + yaml.safe_dump(VALID, sort_keys=False)
    text = text.replace("  trainer:\n    max_epochs: 1", "  trainer:\n    <<: *d")
    report = validate_recipe_bytes(text)
    assert [e.field for e in report.errors] == ["x_defaults"]
    assert report.recipe is not None and report.recipe["training_config"]["trainer"] == {"max_epochs": 2}


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"", "is empty"),
        (b"# only a comment\n\n", "is empty"),
        (b"run: [1, 2\n", "YAML syntax error at line 2, column 1"),
        (b"run:\n  name: a\n bad: x\n", "YAML syntax error at line 3, column 2"),
        (b"\xff\xfe\x00", "not valid UTF-8"),
        (b"- a\n- b\n", "must be a mapping"),
        (b"42", "must be a mapping"),
        (b"when: !!timestamp 2024-01-01", "unsupported YAML value at line 1"),
        (b"x: &x [*x]", "nested more than"),
        (b"[" * 100_000, "nested more than"),
        (b"a: " + b"9" * 5000, "unreadable value"),
        (b"a: 1\n---\nb: 2\n", "YAML syntax error"),
    ],
)
def test_unusable_documents_give_a_file_level_error(data: bytes, fragment: str) -> None:
    report = validate_recipe_bytes(data, source="my.yaml")
    error = only_error(report)
    assert error.field is None
    assert fragment in error.message
    assert "my.yaml" in error.message
    assert report.recipe is None and report.model is None


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("a\x01", "line 1, column 2"),
        ("\n\x01: x\n", "line 2, column 1"),
        ("\nrun:\n  name: a\x01\nx: 1\ny: 2\n", "line 3, column 10"),
    ],
)
def test_raw_control_character_is_located_by_line_and_column(text: str, where: str) -> None:
    message = only_error(validate_recipe_bytes(text)).message
    assert f"control character U+0001 at {where}:" in message


def test_syntax_error_names_what_the_parser_expected() -> None:
    message = only_error(validate_recipe_bytes(b"run: [1, 2\n")).message
    assert "expected ',' or ']'" in message and "flow sequence" in message


def test_size_limit_is_one_mebibyte() -> None:
    body = yaml.safe_dump(VALID, sort_keys=False).encode()
    padding = MAX_BYTES - len(body)
    assert check(VALID).valid
    assert validate_recipe_bytes(body + b" " * padding).valid
    report = validate_recipe_bytes(body + b" " * (padding + 1))
    assert "1,048,576" in only_error(report).message


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (10**30 - 1, "9" * 30),
        (10**30, "an integer of 31 digits"),
        (-(10**40), "an integer of 41 digits"),
    ],
)
def test_long_integers_are_summarised_in_messages(value: int, shown: str) -> None:
    error = only_error(check(with_value("training_config.model.optim.sched.constant_steps", value)))
    assert error.message.startswith(f"{shown} is not allowed")


@pytest.mark.parametrize(("length", "shown"), [(78, "'" + "a" * 78 + "'"), (79, "'" + "a" * 76 + "...")])
def test_long_values_are_cut_to_80_characters_in_messages(length: int, shown: str) -> None:
    error = only_error(check(with_value("run.name", "a" * length)))
    assert error.field == "run.name"
    assert error.message.startswith(f"{shown} is not allowed")


def test_text_with_lone_surrogate_is_an_error() -> None:
    assert only_error(validate_recipe_bytes("run: \udc80")).field is None


# --- All errors at once ------------------------------------------------------------------------


def test_every_problem_is_reported_in_one_pass() -> None:
    mapping = copy.deepcopy(VALID)
    mapping["run"].update(name="Bad_Name", model_name_or_path="nova-pro/prod", replicas=6)
    mapping["training_config"].update(global_batch_size=100, max_lenght=10)
    mapping["training_config"]["model"]["optim"].update(eps=-1.0)
    mapping["training_config"]["model"]["optim"]["sched"].update(min_lr=0.5)
    del mapping["training_config"]["trainer"]["max_epochs"]
    report = check(mapping)
    assert {e.field for e in report.errors} == {
        "run.name",
        "run.model_name_or_path",
        "run.replicas",
        "training_config.global_batch_size",
        "training_config.max_lenght",
        "training_config.model.optim.eps",
        "training_config.model.optim.sched.min_lr",
        "training_config.trainer.max_epochs",
    }
    missing = next(e for e in report.errors if e.field == "training_config.trainer.max_epochs")
    assert "missing" in missing.message and "1 to 100" in missing.message
    assert report.recipe is not None and report.recipe["training_config"]["max_lenght"] == 10


# --- S3 paths and cluster limits ---------------------------------------------------------------


@pytest.mark.parametrize("key", ["data_s3_path", "output_s3_path"])
def test_required_s3_paths(key: str) -> None:
    for mapping, fragment in (
        (with_value(f"run.{key}", ""), "'' is not allowed: set it"),
        (with_value("run", {k: v for k, v in VALID["run"].items() if k != key}), "missing: set it"),
    ):
        error = only_error(check(mapping))
        assert error.field == f"run.{key}"
        assert fragment in error.message
        assert check(mapping, require_s3_paths=False).valid


def test_max_replicas() -> None:
    assert check(VALID, max_replicas=16).valid
    assert not check(VALID, max_replicas=15).valid
    error = only_error(check(VALID, max_replicas=8))
    assert error.field == "run.replicas"
    assert error.message == (
        "16 is not allowed: the cluster allows at most 8 instances (nova-cpt:max_replicas in cdk.json); "
        "use 8 or fewer, or set nova-cpt:max_replicas to 16 and redeploy"
    )


# --- Report shape ------------------------------------------------------------------------------


def test_report_json_shape_and_normalised_recipe() -> None:
    mapping = with_value("run.validation_data_s3_path", "")
    report = check(mapping)
    data = report.to_json_dict()
    assert list(data) == ["valid", "generation", "errors", "warnings", "notes", "recipe"]
    assert data["valid"] is True and data["errors"] == [] and data["warnings"] == [] and data["notes"] == []
    assert data["generation"] == "1.0"
    assert data["recipe"] == mapping
    assert json.loads(json.dumps(data, allow_nan=False)) == data
    assert list(data["recipe"]["training_config"]) == ["max_length", "global_batch_size", "trainer", "model"]
    assert isinstance(report.model, NovaCptRecipe)
    assert report.model.training_config.model.optim.sched.min_lr == 1e-6


def test_invalid_report_keeps_best_effort_mapping_as_strict_json() -> None:
    report = check(with_value("training_config.model.optim.eps", float("nan")))
    data = report.to_json_dict()
    assert data["valid"] is False
    assert data["errors"] == [
        {
            "field": "training_config.model.optim.eps",
            "message": "nan is not allowed: must be a number above 0 and at most 1",
        }
    ]
    assert data["recipe"]["training_config"]["model"]["optim"]["eps"] == "nan"
    json.dumps(data, allow_nan=False)


def test_report_json_has_text_keys_and_values_a_strict_reader_takes() -> None:
    text = yaml.safe_dump(VALID, sort_keys=False) + f".nan: 1\n3: 2\n{10**40}: 3\n"
    text = text.replace("run:\n", 'run:\n  mlflow_run_name: "a\\ud800"\n  mlflow_experiment_name: "b\\udfff"\n', 1)
    report = validate_recipe_bytes(text)
    assert not report.valid
    data = report.to_json_dict()
    assert {"nan": 1, "3": 2, "an integer of 41 digits": 3}.items() <= data["recipe"].items()
    assert all(isinstance(key, str) for key in data["recipe"])
    run = data["recipe"]["run"]
    assert (run["mlflow_run_name"], run["mlflow_experiment_name"]) == ("a\\ud800", "b\\udfff")
    json.dumps(data, allow_nan=False, ensure_ascii=False).encode("utf-8")


@pytest.mark.parametrize(("value", "number"), [(-(2**63), True), (2**63, True), (2**63 + 1, False)])
def test_report_json_keeps_integers_a_64_bit_reader_takes(value: int, number: bool) -> None:
    data = check(with_value("training_config.model.optim.sched.constant_steps", value)).to_json_dict()
    shown = data["recipe"]["training_config"]["model"]["optim"]["sched"]["constant_steps"]
    assert shown == (value if number else str(value))


def test_recipe_issue_to_dict() -> None:
    assert RecipeIssue(None, "m").to_dict() == {"field": None, "message": "m"}


# --- Overrides ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("training_config.max_length=4096", ("training_config.max_length", 4096)),
        ("training_config.model.optim.lr=1e-5", ("training_config.model.optim.lr", 1e-5)),
        ("run.output_s3_path=s3://b-1/x", ("run.output_s3_path", "s3://b-1/x")),
        ("run.data_s3_path=", ("run.data_s3_path", "")),
        ("training_config.model.optim.adam_w_mode=false", ("training_config.model.optim.adam_w_mode", False)),
        ("training_config.model.optim.betas=[0.8, 0.9]", ("training_config.model.optim.betas", [0.8, 0.9])),
        ("run.name=a: b", ("run.name", "a: b")),
        ("run.name=[oops", ("run.name", "[oops")),
        (" run.name = x=y ", ("run.name", "x=y")),
        ("run.mlflow_run_name=#1", ("run.mlflow_run_name", "#1")),
        ("run.mlflow_run_name= # not a comment", ("run.mlflow_run_name", "# not a comment")),
    ],
)
def test_parse_set_option(text: str, expected: tuple[str, Any]) -> None:
    assert parse_set_option(text) == expected


@pytest.mark.parametrize(("text", "fragment"), [("run.name", "KEY=VALUE"), ("=5", "empty"), (" =5", "empty")])
def test_parse_set_option_rejects_malformed(text: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        parse_set_option(text)


def test_apply_overrides_sets_in_place_and_creates_sections() -> None:
    mapping: dict[str, Any] = {"run": {"name": "a"}}
    value = [0.8, 0.9]
    issues = apply_overrides(mapping, {"run.name": "b", "training_config.model.optim.betas": value})
    assert issues == []
    assert mapping == {"run": {"name": "b"}, "training_config": {"model": {"optim": {"betas": [0.8, 0.9]}}}}
    value.append(0.1)
    assert mapping["training_config"]["model"]["optim"]["betas"] == [0.8, 0.9]
    section = {"optim": {"betas": [0.8, 0.9]}}
    apply_overrides(mapping, {"training_config.model": section})
    section["optim"]["betas"].append(0.1)
    assert mapping["training_config"]["model"] == {"optim": {"betas": [0.8, 0.9]}}


def test_apply_overrides_rejects_unknown_keys_and_non_mapping_parents() -> None:
    mapping: dict[str, Any] = {"run": "oops"}
    issues = apply_overrides(mapping, {"training_config.trainer.max_epoch": 2, "run.name": "x"})
    assert [i.field for i in issues] == ["training_config.trainer.max_epoch", "run.name"]
    assert "did you mean training_config.trainer.max_epochs?" in issues[0].message
    far = apply_overrides({}, {"zzz": 1})
    assert [i.field for i in far] == ["zzz"]
    assert "(keys are dotted paths such as training_config.max_length)" in far[0].message
    assert "run is 'oops', not a mapping" in issues[1].message
    deep: dict[str, Any] = {"training_config": {"model": 5}}
    [issue] = apply_overrides(deep, {"training_config.model.optim.lr": 1e-5})
    assert issue.field == "training_config.model.optim.lr"
    assert "training_config.model is 5, not a mapping" in issue.message
    assert mapping == {"run": "oops"}


def test_overrides_are_validated_like_file_values() -> None:
    report = check(VALID, overrides={"training_config.max_length": 9000, "run.replica": 8})
    assert {e.field for e in report.errors} == {"training_config.max_length", "run.replica"}
    report = check(VALID, overrides=dict([parse_set_option("training_config.max_length=4096")]))
    assert report.valid and report.recipe is not None
    assert report.recipe["training_config"]["max_length"] == 4096


def test_override_of_a_type_yaml_cannot_hold_names_the_python_type() -> None:
    error = only_error(check(VALID, overrides={"run.name": b"x"}))
    assert error.field == "run.name"
    assert "b'x' (bytes) is not allowed: must be a DNS-1123 label" in error.message


def test_override_of_an_aliased_list_changes_only_that_place() -> None:
    text = yaml.safe_dump(VALID, sort_keys=False).replace("betas:\n", "betas: &b\n")
    text += "x_copy: *b\n"
    report = validate_recipe_bytes(text, overrides={"training_config.model.optim.betas": [0.5, 0.6]})
    assert report.recipe is not None and report.recipe["x_copy"] == [0.9, 0.999]


# --- Files -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "nova_micro_1_0_p5x8_gpu_pretrain.yaml",
        "nova_lite_1_0_p5x16_gpu_pretrain.yaml",
        "nova_pro_1_0_p5x24_gpu_pretrain.yaml",
    ],
)
def test_official_nova_1_recipes_validate_once_paths_are_set(name: str) -> None:
    path = official(name)
    report = validate_recipe_file(path, overrides=PATHS)
    assert report.valid, report.errors
    assert report.warnings == []
    assert report.recipe is not None
    assert report.recipe["training_config"]["model"]["optim"]["lr"] == 1e-05
    assert {e.field for e in validate_recipe_file(path).errors} == {"run.data_s3_path", "run.output_s3_path"}


def test_official_nova_2_lite_recipe_validates_once_paths_are_set() -> None:
    path = official("nova_lite_2_0_p5x8_gpu_pretrain.yaml")
    report = validate_recipe_file(path, overrides=PATHS)
    assert report.valid, report.errors
    assert report.model is not None and report.model.generation == "2.0"
    assert report.warnings == []
    shipped = validate_recipe_file(path, require_s3_paths=False)
    assert shipped.valid and [n.field for n in shipped.notes] == ["run.data_s3_path", "run.output_s3_path"]
    assert all("filled by the pipeline" in n.message for n in shipped.notes)


READY_FILES = {"micro": "nova_micro_cpt", "lite": "nova_lite_cpt", "pro": "nova_pro_cpt", "lite-2": "nova_lite_2_cpt"}


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.key)
def test_ready_recipes_are_valid(model: Any) -> None:
    path = READY / f"{READY_FILES[model.key]}.yaml"
    shipped = validate_recipe_file(path, require_s3_paths=False)
    assert shipped.valid, shipped.errors
    assert shipped.model is not None
    assert shipped.model.run.model_type == model.model_type
    assert shipped.model.generation == model.generation
    assert shipped.model.run.name == READY_FILES[model.key].replace("_", "-")
    assert shipped.model.run.replicas in model.replicas
    assert shipped.model.run.data_s3_path == shipped.model.run.output_s3_path == ""
    assert {n.field for n in shipped.notes} == {"run.data_s3_path", "run.output_s3_path"}
    assert not validate_recipe_file(path).valid
    assert validate_recipe_file(path, overrides=PATHS).valid


def test_every_catalogued_model_has_a_ready_recipe() -> None:
    assert sorted(p.stem for p in READY.glob("*.yaml")) == sorted(READY_FILES.values())


def test_missing_file_raises_oserror(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        validate_recipe_file(tmp_path / "absent.yaml")


def test_oversized_file_is_an_error_read_no_further_than_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "big.yaml"
    path.write_bytes(b"#" * (3 * MAX_BYTES))
    read: list[int] = []
    real_open = Path.open

    def counting_open(self: Path, *args: Any, **kwargs: Any) -> Any:
        handle = real_open(self, *args, **kwargs)
        real_read = handle.read

        def counting_read(*size: Any) -> bytes:
            data: bytes = real_read(*size)
            read.append(len(data))
            return data

        handle.read = counting_read
        return handle

    monkeypatch.setattr(Path, "open", counting_open)
    assert "big.yaml is larger than" in only_error(validate_recipe_file(path)).message
    assert sum(read) == MAX_BYTES + 1


@pytest.mark.parametrize(("path", "value"), [("run.replicas", 0), ("run.model_type", "amazon.nova-premier-v1:0")])
def test_a_value_already_refused_is_not_checked_against_the_cluster(path: str, value: Any) -> None:
    report = check(with_value(path, value), max_replicas=16, model_type="amazon.nova-lite-v1:0:300k")
    assert [e.field for e in report.errors] == [path]


def test_a_model_other_than_the_clusters_names_the_setting_to_change() -> None:
    error = only_error(check(VALID, model_type="amazon.nova-micro-v1:0:128k"))
    assert error.field == "run.model_type"
    for fact in (
        "'amazon.nova-lite-v1:0:300k' is not allowed",
        "set up for 'amazon.nova-micro-v1:0:128k'",
        "nova-cpt:model in cdk.json",
        "set nova-cpt:model to lite and redeploy",
    ):
        assert fact in error.message
    assert check(VALID, model_type="amazon.nova-lite-v1:0:300k").valid


def test_file_validation_applies_the_deployment_limits(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(VALID, sort_keys=False))
    assert validate_recipe_file(path).valid
    capped = only_error(validate_recipe_file(path, max_replicas=8))
    assert capped.field == "run.replicas" and "at most 8 instances" in capped.message
    other = only_error(validate_recipe_file(path, model_type="amazon.nova-micro-v1:0:128k"))
    assert other.field == "run.model_type" and "'amazon.nova-micro-v1:0:128k'" in other.message


# --- Robustness (never raises) -----------------------------------------------------------------

KEYS = st.sampled_from(["run", "training_config", "model", "optim", "sched", "lr", "betas", "name", "replicas"])
SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
TREES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS | st.text(max_size=8), inner, max_size=5),
    max_leaves=30,
)
FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def assert_report(report: RecipeReport) -> None:
    assert isinstance(report, RecipeReport)
    assert report.valid is (not report.errors)
    json.dumps(report.to_json_dict(), allow_nan=False)


@FAST
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    assert_report(validate_recipe_bytes(data))


@FAST
@given(st.text(alphabet=st.sampled_from(list("ab:- \n\t[]{},&*!|>'\"#%@`?~<=1e.5")), max_size=200))
def test_yaml_ish_text_never_raises(text: str) -> None:
    assert_report(validate_recipe_bytes(text))


@FAST
@given(st.dictionaries(KEYS, TREES, max_size=4))
def test_arbitrary_structures_never_raise(tree: dict[str, Any]) -> None:
    assert_report(validate_recipe_bytes(yaml.safe_dump(tree), overrides={"run.name": "x"}))


@FAST
@given(st.text(max_size=40))
def test_parse_set_option_only_raises_value_error(text: str) -> None:
    try:
        key, _ = parse_set_option(text)
    except ValueError:
        return
    assert key and "=" in text
