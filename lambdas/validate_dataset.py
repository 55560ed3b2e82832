"""ValidateDatasets states: PlanValidation, ValidateShard (Distributed Map), CountDuplicates, MergeReports."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field

from lambdas.events import RecipeEvent
from lambdas.runtime import deployment, env, metrics, pipeline_handler, s3
from novacpt.steps.dataset import (
    LIMIT_KEYS,
    SHARD_BYTES,
    count_duplicates_step,
    merge_reports_step,
    plan_validation_step,
    validate_shard_step,
)


class ShardEnv(BaseModel):
    """The largest byte range one ValidateShard invocation scans."""

    model_config = ConfigDict(extra="ignore")
    shard_bytes: int = Field(default=SHARD_BYTES, ge=1)


class ShardEvent(BaseModel):
    """One shard, as planned."""

    model_config = ConfigDict(extra="allow")
    run_id: str
    role: str
    uri: str
    index: int
    start: int
    end: int
    size: int
    partitions: int


class DuplicatesEvent(BaseModel):
    """One hash partition of one dataset, and every shard's line count."""

    run_id: str
    role: str
    partition: int
    shards: list[dict[str, Any]]


class MergeEvent(BaseModel):
    """The plan and the results of the two maps."""

    plan: dict[str, Any]
    shards: list[dict[str, Any]]
    duplicates: list[dict[str, Any]]


@pipeline_handler(RecipeEvent)
def plan(event: RecipeEvent, context: LambdaContext) -> dict[str, Any]:
    """Shards and partitions of the run's datasets."""
    recipe = event.recipe
    return plan_validation_step(
        s3(),
        deployment(),
        run_id=recipe["run_id"],
        datasets=recipe["datasets"],
        limits={k: recipe[k] for k in LIMIT_KEYS},
        shard_bytes=env(ShardEnv).shard_bytes,
    )


@pipeline_handler(ShardEvent)
def shard(event: ShardEvent, context: LambdaContext) -> dict[str, Any]:
    """Scan one shard."""
    result = validate_shard_step(s3(), deployment(), event.model_dump())
    metrics.add_metric(name="LinesValidated", unit="Count", value=result["lines"])
    return result


@pipeline_handler(DuplicatesEvent)
def duplicates(event: DuplicatesEvent, context: LambdaContext) -> dict[str, Any]:
    """Count one hash partition's duplicates."""
    return count_duplicates_step(
        s3(), deployment(), run_id=event.run_id, role=event.role, partition=event.partition, shards=event.shards
    )


@pipeline_handler(MergeEvent)
def merge(event: MergeEvent, context: LambdaContext) -> list[dict[str, Any]]:
    """Every dataset's report (DatasetInvalid with the first bad lines when any is invalid)."""
    return merge_reports_step(s3(), deployment(), plan=event.plan, shards=event.shards, duplicates=event.duplicates)
