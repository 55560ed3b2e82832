"""Contract values for tests: valid run summaries, dataset summaries, estimates and run states."""

from __future__ import annotations

from typing import Any

from novacpt.contract import DatasetLimits, DatasetRef, DatasetSummary, EstimateResult, RecipeSummary, RunState
from novacpt.recipe import validate_recipe_file
from tests.conftest import ROOT

PATHS = {
    "run.data_s3_path": "s3://data-bkt/jobs/trial-a/train.jsonl",
    "run.output_s3_path": "s3://out-bkt/trial-a",
}


def recipe_summary(
    recipe_file: str = "nova_lite_cpt.yaml", overrides: dict[str, Any] | None = None, **changes: Any
) -> RecipeSummary:
    """The summary ValidateRecipe gives a shipped recipe (paths filled, `overrides` applied), with `changes`."""
    report = validate_recipe_file(ROOT / "recipes" / recipe_file, overrides={**PATHS, **(overrides or {})})
    assert report.model is not None, report.errors
    recipe = report.model
    values: dict[str, Any] = {
        "run_id": "run-a",
        "job_name": "nova-lite-cpt-1a2b3c4d",
        "source_uri": "s3://data-bkt/jobs/trial-a/recipe.yaml",
        "resolved_uri": "s3://archive-bkt/runs/run-a/recipe.yaml",
        "model": recipe.nova_model.key,
        "replicas": recipe.run.replicas,
        "limits": DatasetLimits.of(recipe),
        "output_s3_path": recipe.run.output_s3_path.rstrip("/"),
        "datasets": [DatasetRef(role="train", uri=recipe.run.data_s3_path)],
        "recipe": recipe,
    }
    return RecipeSummary(**{**values, **changes})


def dataset_summary(**changes: Any) -> DatasetSummary:
    """A valid training dataset's summary, with `changes`."""
    values: dict[str, Any] = {
        "role": "train",
        "uri": PATHS["run.data_s3_path"],
        "version_id": "v1",
        "etag": "e1",
        "bytes": 10,
        "shards": 1,
        "records": 300,
        "estimated_tokens": 4000,
        "report_uri": "s3://archive-bkt/runs/run-a/reports/train.json",
    }
    return DatasetSummary(**{**values, **changes})


def estimate_result(**changes: Any) -> EstimateResult:
    """An estimate of a 16-instance Lite run, with `changes`."""
    values: dict[str, Any] = {
        "model": "lite",
        "replicas": 16,
        "instance_type": "ml.p5.48xlarge",
        "hours": 1.5,
        "instance_hours": 24.0,
        "cost_usd": None,
        "steps": 10,
        "suggested_max_steps": 10,
    }
    return EstimateResult(**{**values, **changes})


def run_state(**parts: Any) -> RunState:
    """A run state with these parts (contract models, lists of them, or their JSON form)."""

    def dumped(value: Any) -> Any:
        if isinstance(value, list):
            return [dumped(v) for v in value]
        return value.model_dump(mode="json") if hasattr(value, "model_dump") else value

    return RunState.model_validate({k: dumped(v) for k, v in parts.items()})
