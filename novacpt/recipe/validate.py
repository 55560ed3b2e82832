"""Recipe validation entry points: every problem in one report, never an exception for bad input."""

from __future__ import annotations

import copy
import difflib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from novacpt.catalog import BY_TYPE, Generation
from novacpt.recipe.fields import LR_RECOMMENDED, RecipeIssue, Section, describe_value, format_path
from novacpt.recipe.model import (
    CROSS_FIELD_ERROR,
    Nova2CptRecipe,
    NovaCptRecipe,
    Recipe,
    cross_field_problems,
    field_rule,
    generation_hint,
    lr_paths,
    recipe_class,
    schema_location,
    schema_paths,
    section_keys,
)
from novacpt.recipe.yaml_loader import MAX_BYTES, LoadedYaml, load_recipe_yaml, parse_scalar

# The cdk.json keys behind the deployment's limits (stacks/config.py DeploymentConfig fields).
MODEL_SETTING = "nova-cpt:model"
MAX_REPLICAS_SETTING = "nova-cpt:max_replicas"
_FILLED = "filled by the pipeline"


@dataclass
class RecipeReport:
    """Outcome of validating one recipe: errors, warnings and notes (such as paths the pipeline fills)."""

    source: str
    errors: list[RecipeIssue]
    warnings: list[RecipeIssue]
    recipe: dict[str, Any] | None
    model: Recipe | None
    notes: list[RecipeIssue] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        """True when there is no error (warnings and notes allowed)."""
        return not self.errors

    def to_json_dict(self) -> dict[str, Any]:
        """{"valid", "generation", "errors", "warnings", "notes", "recipe"}: strict JSON (no NaN, text keys)."""
        return {
            "valid": self.valid,
            "generation": self.model.generation if self.model else None,
            "errors": [issue.to_dict() for issue in self.errors],
            "warnings": [issue.to_dict() for issue in self.warnings],
            "notes": [issue.to_dict() for issue in self.notes],
            "recipe": _json_safe(self.recipe),
        }


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {_json_safe(k) if isinstance(k, str) else describe_value(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**63:
        return describe_value(value)
    if isinstance(value, str) and any("\ud800" <= ch <= "\udfff" for ch in value):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    return value


def _close_match(word: str, candidates: list[str]) -> str:
    """The suffix " (did you mean X?)" when a candidate is close to `word`, else ""."""
    match = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    return f" (did you mean {match[0]}?)" if match else ""


_ALL_PATHS = list(dict.fromkeys(schema_paths(NovaCptRecipe) + schema_paths(Nova2CptRecipe)))


# --- Overrides ----------------------------------------------------------------------------------


def parse_set_option(text: str) -> tuple[str, Any]:
    """Split "dotted.key=value" and read the value like a YAML value (`1e-5` is a float).

    Raises ValueError when there is no "=" or the key is empty.
    """
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep:
        raise ValueError(f"expected KEY=VALUE (such as training_config.max_length=4096), got {text!r}")
    if not key:
        raise ValueError(f"the key before '=' is empty in {text!r}")
    return key, parse_scalar(raw)


def apply_overrides(mapping: dict[Any, Any], overrides: Mapping[str, Any]) -> list[RecipeIssue]:
    """Set each dotted key of `overrides` in `mapping`, IN PLACE (missing sections are created).

    Values are deep-copied. Returns an error for a key that is not in the recipe schema
    (with a did-you-mean suggestion) or whose parent in `mapping` is not a mapping.
    """
    known = _ALL_PATHS
    issues: list[RecipeIssue] = []
    for key, value in overrides.items():
        if key not in known:
            hint = _close_match(key, known) or " (keys are dotted paths such as training_config.max_length)"
            issues.append(RecipeIssue(key, f"override {key!r} is not allowed: not a recipe key{hint}"))
            continue
        *parents, leaf = key.split(".")
        target: Any = mapping
        for depth, part in enumerate(parents):
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                where = ".".join(parents[: depth + 1])
                issues.append(RecipeIssue(key, f"cannot set {key}: {where} is {describe_value(target)}, not a mapping"))
                break
        else:
            target[leaf] = copy.deepcopy(value)
    return issues


# --- Schema errors ------------------------------------------------------------------------------


def _kind(value: Any) -> str:
    kinds: list[tuple[type, str]] = [
        (bool, "true/false"),
        (int, "an integer"),
        (float, "a decimal number"),
        (str, "text"),
        (list, "a list"),
        (dict, "a mapping"),
    ]
    return next((name for cls, name in kinds if isinstance(value, cls)), type(value).__name__)


def _issue_from_error(error: ErrorDetails, root: type[Section], generation: Generation) -> RecipeIssue:
    """Rewrite one pydantic error as "<value> is not allowed: must be <rule>" at its dotted path."""
    loc, kind, value = schema_location(root, error["loc"]), error["type"], error["input"]
    if kind == "invalid_key":
        keys = ", ".join(section_keys(root, loc[:-1]))
        return RecipeIssue(
            format_path((*loc[:-1], describe_value(value))),
            f"key {describe_value(value)} is not allowed: keys must be text (allowed keys here: {keys})",
        )
    path = format_path(loc)
    if kind == "string_unicode":  # a key or value with a lone surrogate, which pydantic cannot read
        return RecipeIssue(path or None, f"{describe_value(value)} is not allowed: text must not hold a lone surrogate")
    if kind == "extra_forbidden":
        key = str(loc[-1])
        allowed = section_keys(root, loc[:-1])
        hint = generation_hint(generation, path)
        if hint:
            return RecipeIssue(path, f"unknown key {key!r} in a Nova {generation} recipe: {hint}")
        elsewhere = [p for p in schema_paths(root) if p.endswith("." + key)]
        suggestion = f" ({key} belongs at {elsewhere[0]})" if elsewhere else _close_match(key, allowed)
        return RecipeIssue(
            path, f"unknown key {describe_value(key)}{suggestion}; allowed keys here: {', '.join(allowed)}"
        )
    rule = field_rule(root, loc) or "as documented"
    if kind == "missing":
        return RecipeIssue(path, f"required key is missing: it must be {rule}")
    if kind == "value_error":
        reason = str(error.get("ctx", {}).get("error", rule))
        return RecipeIssue(path, f"{describe_value(value)} is not allowed: {reason}")
    shown = describe_value(value)
    if kind.endswith("_type") and value is not None:
        shown += f" ({_kind(value)})"
    return RecipeIssue(path, f"{shown} is not allowed: must be {rule}")


def _schema_issues(mapping: dict[Any, Any]) -> tuple[Recipe | None, list[RecipeIssue]]:
    root = recipe_class(mapping)
    try:
        return root.model_validate(mapping), []
    except ValidationError as exc:
        # Cross-field rules are re-checked on the raw mapping, with precise paths.
        generation: Generation = "2.0" if root is Nova2CptRecipe else "1.0"
        issues = [_issue_from_error(e, root, generation) for e in exc.errors() if e["type"] != CROSS_FIELD_ERROR]
        return None, list(dict.fromkeys(issues))


# --- Checks on values that passed the schema ----------------------------------------------------


def _touched(path: str, errors: list[RecipeIssue]) -> bool:
    """Whether an error concerns `path`, one of its parents or something inside it."""
    for issue in errors:
        name = issue.field or ""
        if name == path or path.startswith(name + ".") or name.startswith((path + ".", path + "[")):
            return True
    return False


def _good_value(mapping: dict[Any, Any], path: str, errors: list[RecipeIssue]) -> Any:
    """The value at `path` when present and untouched by any error, else None."""
    if _touched(path, errors):
        return None
    value: Any = mapping
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _generation(mapping: dict[Any, Any]) -> Generation:
    return "2.0" if recipe_class(mapping) is Nova2CptRecipe else "1.0"


def _cross_field_issues(mapping: dict[Any, Any], errors: list[RecipeIssue]) -> list[RecipeIssue]:
    lr_path, min_lr_path = lr_paths(_generation(mapping))
    problems = cross_field_problems(
        model_type=_good_value(mapping, "run.model_type", errors),
        model_name_or_path=_good_value(mapping, "run.model_name_or_path", errors),
        replicas=_good_value(mapping, "run.replicas", errors),
        lr=_good_value(mapping, lr_path, errors),
        min_lr=_good_value(mapping, min_lr_path, errors),
        min_lr_path=min_lr_path,
    )
    return [RecipeIssue(name, message) for name, message in problems]


_REQUIRED_PATHS = (
    ("data_s3_path", "the s3://bucket/key.jsonl URI of the training data", "the drop folder's train.jsonl"),
    ("output_s3_path", "an s3://bucket/prefix URI for the output", "the output bucket"),
)


def _path_issues(
    mapping: dict[Any, Any], errors: list[RecipeIssue], require_s3_paths: bool
) -> tuple[list[RecipeIssue], list[RecipeIssue]]:
    """(errors, notes) for empty S3 paths: errors when required, else notes that the pipeline fills them."""
    issues: list[RecipeIssue] = []
    notes: list[RecipeIssue] = []
    run = mapping.get("run")
    if not isinstance(run, dict):
        return issues, notes
    for key, what, filler in _REQUIRED_PATHS:
        path = f"run.{key}"
        if run.get(key) or _touched(path, errors):
            continue
        if require_s3_paths:
            problem = "'' is not allowed" if key in run else "required key is missing"
            issues.append(RecipeIssue(path, f"{problem}: set it to {what}"))
        else:
            notes.append(RecipeIssue(path, f"empty: {_FILLED} from {filler} (--require-paths makes this an error)"))
    return issues, notes


def deployment_issues(
    mapping: dict[Any, Any],
    errors: list[RecipeIssue],
    *,
    max_replicas: int | None,
    model_type: str | None,
) -> list[RecipeIssue]:
    """What the deployment's cluster settings refuse, each naming the cdk.json key to change."""
    issues: list[RecipeIssue] = []
    replicas = _good_value(mapping, "run.replicas", errors)
    if max_replicas is not None and isinstance(replicas, int) and replicas > max_replicas:
        issues.append(
            RecipeIssue(
                "run.replicas",
                f"{replicas} is not allowed: the cluster allows at most {max_replicas} instances "
                f"({MAX_REPLICAS_SETTING} in cdk.json); use {max_replicas} or fewer, or set "
                f"{MAX_REPLICAS_SETTING} to {replicas} and redeploy",
            )
        )
    recipe_model = _good_value(mapping, "run.model_type", errors)
    if model_type is not None and isinstance(recipe_model, str) and recipe_model != model_type:
        wanted = BY_TYPE.get(recipe_model)
        fix = f"set {MODEL_SETTING} to {wanted.key} and redeploy" if wanted else "redeploy for this model"
        issues.append(
            RecipeIssue(
                "run.model_type",
                f"{recipe_model!r} is not allowed: the cluster is set up for {model_type!r} "
                f"({MODEL_SETTING} in cdk.json); use that model, or {fix}",
            )
        )
    return issues


def _warnings(mapping: dict[Any, Any], errors: list[RecipeIssue]) -> list[RecipeIssue]:
    warnings: list[RecipeIssue] = []
    uri = _good_value(mapping, "run.mlflow_tracking_uri", errors)
    if isinstance(uri, str) and uri.strip():
        warnings.append(
            RecipeIssue(
                "run.mlflow_tracking_uri",
                f"{uri!r} is set but MLflow logging is not supported for CPT; nothing will be logged there",
            )
        )
    lr_path, _ = lr_paths(_generation(mapping))
    lr = _good_value(mapping, lr_path, errors)
    low, high = LR_RECOMMENDED
    if isinstance(lr, int | float) and not isinstance(lr, bool) and not low <= lr <= high:
        warnings.append(
            RecipeIssue(lr_path, f"{lr!r} is allowed but outside the recommended range {low:g} to {high:g}")
        )
    return warnings


# --- Entry points -------------------------------------------------------------------------------


def validate_recipe_bytes(
    data: bytes | str,
    *,
    source: str = "recipe.yaml",
    overrides: Mapping[str, Any] | None = None,
    require_s3_paths: bool = True,
    max_replicas: int | None = None,
    model_type: str | None = None,
) -> RecipeReport:
    """Validate recipe text, collecting every problem; never raises for any content.

    `overrides` (dotted key -> value) are applied before validation. With
    `require_s3_paths` an empty data_s3_path/output_s3_path is an error, else a note;
    `max_replicas` caps run.replicas and `model_type` is the only run.model_type allowed
    (the deployment's settings, see `deployment_issues`).
    """
    return validate_loaded_recipe(
        load_recipe_yaml(data, source=source),
        source=source,
        overrides=overrides,
        require_s3_paths=require_s3_paths,
        max_replicas=max_replicas,
        model_type=model_type,
    )


def validate_loaded_recipe(
    loaded: LoadedYaml,
    *,
    source: str = "recipe.yaml",
    overrides: Mapping[str, Any] | None = None,
    require_s3_paths: bool = True,
    max_replicas: int | None = None,
    model_type: str | None = None,
) -> RecipeReport:
    """`validate_recipe_bytes` of a document already loaded (its mapping is changed by the overrides)."""
    errors = list(loaded.issues)
    mapping = loaded.mapping
    if mapping is None:
        return RecipeReport(source, errors, [], None, None)
    if overrides:
        errors += apply_overrides(mapping, overrides)
    model, schema_errors = _schema_issues(mapping)
    errors += schema_errors
    errors += _cross_field_issues(mapping, errors)
    path_errors, notes = _path_issues(mapping, errors, require_s3_paths)
    errors += path_errors
    errors += deployment_issues(mapping, errors, max_replicas=max_replicas, model_type=model_type)
    warnings = _warnings(mapping, errors)
    if errors or model is None:
        return RecipeReport(source, errors, warnings, mapping, None, notes)
    return RecipeReport(source, [], warnings, model.model_dump(mode="json", exclude_unset=True), model, notes)


def validate_recipe_file(
    path: str | Path,
    *,
    overrides: Mapping[str, Any] | None = None,
    require_s3_paths: bool = True,
    max_replicas: int | None = None,
    model_type: str | None = None,
) -> RecipeReport:
    """Validate a recipe file (reads at most 1 MiB + 1 byte); I/O problems raise OSError."""
    file_path = Path(path)
    with file_path.open("rb") as handle:
        data = handle.read(MAX_BYTES + 1)
    return validate_recipe_bytes(
        data,
        source=file_path.name,
        overrides=overrides,
        require_s3_paths=require_s3_paths,
        max_replicas=max_replicas,
        model_type=model_type,
    )
