"""ValidateRecipe: load the recipe from S3, fill the paths the drop implies, check every rule and every path."""

from __future__ import annotations

from typing import Any

import yaml

from novacpt.contract import DatasetLimits, DatasetRef, ExecutionInput, RecipeSummary
from novacpt.drop import TRAIN_FILE, VALIDATION_FILE, drop_job, run_prefix
from novacpt.kernel.errors import PipelineError, RecipeInvalid, TransientError
from novacpt.kernel.s3access import S3Access
from novacpt.kernel.s3uri import s3_uri, split_s3_uri
from novacpt.kernel.settings import Deployment, RecipeSettings
from novacpt.naming import job_name
from novacpt.recipe import MAX_BYTES, Recipe, RecipeIssue, RecipeReport
from novacpt.recipe.checkpoint import checkpoint_account_problem
from novacpt.recipe.validate import validate_loaded_recipe
from novacpt.recipe.yaml_loader import LoadedYaml, load_recipe_yaml
from novacpt.steps.archive import checkpoint_record_uri

_PATHS = ("run.data_s3_path", "run.validation_data_s3_path", "run.output_s3_path")


def validate_recipe_step(
    s3: S3Access, deployment: RecipeSettings, run: ExecutionInput, *, run_id: str
) -> RecipeSummary:
    """Validate the run's recipe, once; raise RecipeInvalid naming every problem, else return the run's summary."""
    recipe_uri = run.recipe_s3_uri
    try:
        bucket, key = split_s3_uri(recipe_uri)
    except ValueError as exc:
        raise RecipeInvalid(f"recipe_s3_uri {recipe_uri!r}: {exc}") from exc
    try:
        data = s3.read(recipe_uri, max_bytes=MAX_BYTES, version_id=run.source_version_id)
    except TransientError:
        raise  # retried by the state machine, not a problem of the recipe
    except PipelineError as exc:
        raise RecipeInvalid(str(exc)) from exc
    name = key.rsplit("/", 1)[-1] or "recipe.yaml"
    loaded = load_recipe_yaml(data, source=name)  # read once: the paths to fill, then every rule
    fills = _fills(s3, deployment, bucket, key, _run_section(loaded, run.overrides))
    report = validate_loaded_recipe(
        loaded,
        source=name,
        overrides={**fills, **run.overrides},
        max_replicas=deployment.max_replicas,
        model_type=deployment.model_type,
    )
    if report.model is None:
        raise RecipeInvalid(_describe(recipe_uri, report.errors))
    problems = _path_problems(s3, deployment, report.model)
    if problems:
        raise RecipeInvalid(_describe(recipe_uri, problems))
    resolved = s3_uri(deployment.archive_bucket, f"{run_prefix(run_id)}recipe.yaml")
    s3.put(resolved, yaml.safe_dump(report.recipe, sort_keys=False).encode(), "application/yaml")
    return _summary(report, run, run_id, resolved)


def _run_section(loaded: LoadedYaml, overrides: dict[str, Any]) -> dict[str, Any]:
    """The recipe's `run` values as written, with the run.* overrides (only to see which paths are empty)."""
    run = (loaded.mapping or {}).get("run")
    values = dict(run) if isinstance(run, dict) else {}
    values.update({k.removeprefix("run."): v for k, v in overrides.items() if k.startswith("run.")})
    return values


def _fills(s3: S3Access, deployment: Deployment, bucket: str, key: str, run: dict[str, Any]) -> dict[str, str]:
    """Values for the empty S3 paths, from the drop location and the output bucket."""
    job = drop_job(key)
    fills: dict[str, str] = {}
    if job is not None and bucket == deployment.data_bucket:
        folder = key.rsplit("/", 1)[0]
        if not run.get("data_s3_path"):
            fills["run.data_s3_path"] = s3_uri(bucket, f"{folder}/{TRAIN_FILE}")
        validation = s3_uri(bucket, f"{folder}/{VALIDATION_FILE}")
        if not run.get("validation_data_s3_path") and s3.head(validation) is not None:
            fills["run.validation_data_s3_path"] = validation
    if not run.get("output_s3_path"):
        fills["run.output_s3_path"] = s3_uri(deployment.output_bucket, job or str(run.get("name") or "runs"))
    return fills


def _path_problems(s3: S3Access, deployment: Deployment, recipe: Recipe) -> list[RecipeIssue]:
    """Every S3 path must be in this account and region, in the bucket the cluster may use, and exist."""
    wanted = {
        "run.data_s3_path": (recipe.run.data_s3_path, deployment.data_bucket, True),
        "run.validation_data_s3_path": (recipe.run.validation_data_s3_path, deployment.data_bucket, True),
        "run.output_s3_path": (recipe.run.output_s3_path, deployment.output_bucket, False),
    }
    problems = []
    for field in _PATHS:
        uri, allowed_bucket, must_exist = wanted[field]
        if not uri:
            continue
        bucket, _ = split_s3_uri(uri)
        if bucket != allowed_bucket:
            problems.append(
                RecipeIssue(field, f"{uri} is outside the bucket the cluster may use: use s3://{allowed_bucket}/...")
            )
            continue
        try:
            region = s3.bucket_region(bucket)
            if region != deployment.region:
                problems.append(
                    RecipeIssue(
                        field, f"{uri} is in {region}; it must be in the deployment's region {deployment.region}"
                    )
                )
            elif must_exist and s3.head(uri) is None:
                problems.append(RecipeIssue(field, f"{uri} does not exist: upload the dataset before the recipe"))
        except TransientError:
            raise
        except PipelineError as exc:
            problems.append(RecipeIssue(field, str(exc)))
    checkpoint = _checkpoint_problem(s3, deployment, recipe.run.model_name_or_path)
    if checkpoint:
        problems.append(checkpoint)
    return problems


def _checkpoint_problem(s3: S3Access, deployment: Deployment, path: str) -> RecipeIssue | None:
    """A checkpoint to start from must be this account's customer-escrow checkpoint, or one this deployment's
    archive recorded (ArchiveOutputs); a console override naming any other bucket fails here, before any spend."""
    if not path.startswith("s3://"):
        return None  # a base model path (nova-lite/prod, ...): the recipe rules check it
    problem = checkpoint_account_problem(path, deployment.account_id)
    if problem is None or s3.head(checkpoint_record_uri(deployment.archive_bucket, path)) is not None:
        return None
    return RecipeIssue(
        "run.model_name_or_path", f"{path} {problem}; or a checkpoint recorded in this deployment's archive"
    )


def _describe(recipe_uri: str, issues: list[RecipeIssue]) -> str:
    lines = [f"{recipe_uri}: {len(issues)} problem(s):"]
    lines += [f"  {issue.field or '(file)'}: {issue.message}" for issue in issues]
    return "\n".join(lines)


def _summary(report: RecipeReport, run: ExecutionInput, run_id: str, resolved: str) -> RecipeSummary:
    recipe = report.model
    assert recipe is not None  # only a valid recipe is summarised
    model = recipe.nova_model
    datasets = [DatasetRef(role="train", uri=recipe.run.data_s3_path)]
    if recipe.run.validation_data_s3_path:
        datasets.append(DatasetRef(role="validation", uri=recipe.run.validation_data_s3_path))
    return RecipeSummary(
        run_id=run_id,
        job_name=job_name(recipe.run.name, run_id),
        source_uri=run.recipe_s3_uri,
        source_version_id=run.source_version_id,
        resolved_uri=resolved,
        model=model.key,
        replicas=recipe.run.replicas,
        limits=DatasetLimits.of(recipe),
        output_s3_path=recipe.run.output_s3_path.rstrip("/"),
        datasets=datasets,
        warnings=[w.to_dict() for w in report.warnings],
        recipe=recipe,
    )
