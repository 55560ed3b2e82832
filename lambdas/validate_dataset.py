"""ValidateDatasets states: PlanValidation, ValidateShard (Distributed Map), CountDuplicates, MergeReports."""

from __future__ import annotations

from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.runtime import deployment, metrics, pipeline_handler, s3, settings
from novacpt.contract import (
    DatasetSummary,
    MergeInput,
    PartitionDuplicates,
    PartitionRequest,
    RecipeInput,
    Shard,
    ShardResult,
    ValidationPlan,
)
from novacpt.kernel.settings import DatasetSettings, MergeSettings
from novacpt.steps.dataset import count_duplicates_step, merge_reports_step, plan_validation_step, validate_shard_step


@pipeline_handler(RecipeInput)
def plan(event: RecipeInput, context: LambdaContext) -> ValidationPlan:
    """Shards and partitions of the run's datasets."""
    recipe = event.recipe
    return plan_validation_step(
        s3(),
        run_id=recipe.run_id,
        datasets=recipe.datasets,
        limits=recipe.limits,
        shard_bytes=settings(DatasetSettings).shard_bytes,
    )


@pipeline_handler(Shard)
def shard(event: Shard, context: LambdaContext) -> ShardResult:
    """Scan one shard."""
    result = validate_shard_step(s3(), deployment(), event)
    metrics.add_metric(name="LinesValidated", unit="Count", value=result.lines)
    return result


@pipeline_handler(PartitionRequest)
def duplicates(event: PartitionRequest, context: LambdaContext) -> PartitionDuplicates:
    """Count one hash partition's duplicates."""
    return count_duplicates_step(s3(), deployment(), event)


@pipeline_handler(MergeInput)
def merge(event: MergeInput, context: LambdaContext) -> list[DatasetSummary]:
    """Every dataset's report (DatasetInvalid with the first bad lines when any is invalid)."""
    return merge_reports_step(
        s3(),
        deployment(),
        plan=event.plan,
        shards=event.shards,
        duplicates=event.duplicates,
        bounds=settings(MergeSettings),
    )
