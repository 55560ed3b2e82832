"""The typed run contract: what each state of the run hands the next, and the run record (`run.json`).

Every step takes and returns these models; the handlers parse and dump them; the state machine's
result paths are `RunState.path(<field>)`, so a field renamed here is renamed everywhere. A value
proven once (the recipe, its S3 locations, the dataset versions) travels parsed; no later step
validates it again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal, cast, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidatorFunctionWrapHandler, field_serializer, field_validator

from novacpt.recipe import Recipe
from novacpt.recipe.model import proven_recipe

if TYPE_CHECKING:  # the dataset scanner (numpy) loads only in the functions that scan
    from novacpt.dataset import DatasetOptions

DatasetRole = Literal["train", "validation"]


class Contract(BaseModel):
    """A value that crosses a state boundary: immutable, and no unknown keys."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class ExecutionInput(Contract):
    """The execution input: what a console user types, or what the trigger sends."""

    EXAMPLE: ClassVar[str] = (
        '{"recipe_s3_uri": "s3://<data bucket>/jobs/<job>/recipe.yaml", "overrides": {"dotted.key": 1}}'
    )

    recipe_s3_uri: str = Field(min_length=1)
    overrides: dict[str, Any] = Field(default_factory=dict)
    source_version_id: str | None = None


class DatasetLimits(Contract):
    """What a dataset is checked against for a recipe: the one place these come from the recipe."""

    max_length: int
    global_batch_size: int
    max_epochs: int | None  # Nova 1.0 counts epochs; Nova 2.0 counts steps

    @classmethod
    def of(cls, recipe: Recipe) -> DatasetLimits:
        """The limits a recipe sets."""
        tc = recipe.training_config
        return cls(max_length=tc.max_length, global_batch_size=tc.global_batch_size, max_epochs=recipe.max_epochs)

    def options(self, *, normalised_duplicates: bool = False) -> DatasetOptions:
        """These limits as dataset validation options."""
        from novacpt.dataset import DatasetOptions

        return DatasetOptions(
            normalised_duplicates=normalised_duplicates,
            max_length=self.max_length,
            global_batch_size=self.global_batch_size,
            max_epochs=self.max_epochs,
        )


class DatasetRef(Contract):
    """One dataset of the run, by role."""

    role: DatasetRole
    uri: str


class RecipeSummary(Contract):
    """ValidateRecipe's result: the recipe as it will run (validated once, with every path proven) and its facts."""

    run_id: str
    job_name: str
    source_uri: str
    source_version_id: str | None = None
    resolved_uri: str
    model: str
    replicas: int
    limits: DatasetLimits
    output_s3_path: str
    datasets: list[DatasetRef]
    warnings: list[dict[str, Any]] = Field(default_factory=list)
    recipe: Recipe

    @field_validator("recipe", mode="wrap")
    @classmethod
    def _proven(cls, value: Any, handler: ValidatorFunctionWrapHandler) -> Recipe:
        # ValidateRecipe proved it; read back from the run state it is rebuilt, its rules not run again.
        return proven_recipe(value) if isinstance(value, dict) else cast(Recipe, handler(value))

    @field_serializer("recipe")
    def _as_written(self, recipe: Recipe) -> dict[str, Any]:
        # Only the keys the recipe set: the job's ConfigMap holds the recipe as written, defaults not added.
        return recipe.model_dump(mode="json", exclude_unset=True)


class PinnedDataset(Contract):
    """A dataset at the version seen when validation was planned: where, which version, how it was split."""

    role: DatasetRole
    uri: str
    version_id: str | None
    etag: str
    bytes: int
    shards: int

    def pinned(self) -> dict[str, Any]:
        """These fields alone, to build a later model of the same dataset version."""
        return {name: getattr(self, name) for name in PinnedDataset.model_fields}


class PlannedDataset(PinnedDataset):
    """A dataset pinned to the version seen when validation was planned."""

    partitions: int


class Shard(Contract):
    """One byte range of one dataset version: one ValidateShard invocation."""

    run_id: str
    role: DatasetRole
    uri: str
    version_id: str | None
    index: int
    start: int
    end: int
    size: int
    partitions: int


class Partition(Contract):
    """One hash partition of one dataset: one CountDuplicates invocation."""

    run_id: str
    role: DatasetRole
    partition: int


class ValidationPlan(Contract):
    """PlanValidation's result: every dataset's shards and hash partitions."""

    run_id: str
    limits: DatasetLimits
    datasets: list[PlannedDataset]
    shards: list[Shard]
    partitions: list[Partition]


class ShardResult(Contract):
    """What ValidateShard leaves in the state (its summary and hashes are in the archive)."""

    role: DatasetRole
    index: int
    lines: int


class PartitionRequest(Contract):
    """CountDuplicates' input: one partition, and every shard's line count."""

    run_id: str
    role: DatasetRole
    partition: int
    shards: list[ShardResult]


class PartitionDuplicates(Contract):
    """Exact duplicates within one hash partition."""

    role: DatasetRole
    partition: int
    count: int
    examples: list[list[int]]


class DatasetSummary(PinnedDataset):
    """MergeReports' result for one dataset: the version validated and where its full report is."""

    records: int
    estimated_tokens: int
    warnings: list[dict[str, Any]] = Field(default_factory=list)
    quality: dict[str, Any] | None = None  # QualityReport.headline(): rates, languages, counts (no line lists)
    report_uri: str
    report_version_id: str | None = None  # the version of the full report MergeReports wrote


class EstimateResult(Contract):
    """The Estimate state's result: the plan (novacpt.plan) with what the recipe as written costs.

    The fields the run reads are typed here; the rest of the plan is recorded as the planner writes it.
    """

    model_config = ConfigDict(frozen=True, extra="allow")

    model: str
    replicas: int
    instance_type: str
    hours: float
    instance_hours: float
    cost_usd: float | None
    steps: int
    suggested_max_steps: int


class PreflightResult(Contract):
    """Preflight's result: every check before capacity is asked for, as `cpt doctor` shows them."""

    checks: list[dict[str, Any]]


class CapacityState(Contract):
    """PrepareCapacity's and CheckCapacity's result: whether the instances are in service, and the wait so far."""

    replicas: int
    ready: bool
    requested_at: str
    waited_seconds: int
    interval_seconds: int


class AbortCleanup(Contract):
    """CleanUpAborted's result: whether the aborted run owned the cluster; if so, the job it cancelled and the
    release workflow it started."""

    execution: str
    owned: bool
    left_queue: bool
    cancelled: str | None
    release: str | None = None


class LeaseState(Contract):
    """JoinQueue's and AcquireLease's result: where the run stands in line for the cluster, or that it owns it."""

    execution: str
    execution_arn: str
    arrived_at: str
    acquired: bool = False
    position: int = 0
    holder: str = ""
    waiting_since: str | None = None
    waited_seconds: int = 0
    interval_seconds: int = 0
    acquired_at: str = ""


class SubmittedJob(Contract):
    """SubmitJob's result."""

    job_name: str
    submitted_at: str


class PollState(Contract):
    """PollJob's result; before the first poll the state machine sets only `attempt` (0)."""

    attempt: int
    state: str | None = None
    interval_seconds: int | None = None
    timed_out: bool = False
    elapsed_seconds: float | None = None
    restarts: int = 0  # container restarts of the job's pods so far
    stuck: str = ""  # the pod stuck longest, and why ("" when none is)


class CancelResult(Contract):
    """CancelJob's result: the job it cancelled, if any."""

    cancelled: str | None


class ReleaseResult(Contract):
    """ReleaseCapacity's result: whether the run owned the cluster (then: the release workflow it started)."""

    owned: bool
    left_queue: bool
    release: str | None = None


class Notification(Contract):
    """Notify's result: the message published (it shows in the execution history)."""

    subject: str
    message: str


class ArchiveState(Contract):
    """ArchiveOutputs' result: where run.json and report.json are, and the outputs copied."""

    run_record: str
    report: str
    outputs: str
    copied: int
    checkpoint: str | None


class StepError(BaseModel):
    """A caught error, as Step Functions writes it (`Error`, `Cause`)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    Error: str = "Unknown"
    Cause: str = ""


class RunState(BaseModel):
    """The whole state of a run at any point: the execution input plus each step's result so far.

    Clean-up steps receive it as it is when a step failed, so every part is optional.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    recipe_s3_uri: str | None = None
    recipe: RecipeSummary | None = None
    plan: ValidationPlan | None = None
    shards: list[ShardResult] | None = None
    duplicates: list[PartitionDuplicates] | None = None
    datasets: list[DatasetSummary] | None = None
    estimate: EstimateResult | None = None
    preflight: PreflightResult | None = None
    lease: LeaseState | None = None
    capacity: CapacityState | None = None
    job: SubmittedJob | None = None
    poll: PollState | None = None
    release: ReleaseResult | None = None
    cancel: CancelResult | None = None
    archive: ArchiveState | None = None
    notification: Notification | None = None
    error: StepError | None = None
    cleanup_error: StepError | None = None

    @classmethod
    def path(cls, *fields: str) -> str:
        """The state machine's JSONPath of a field (`$.poll.attempt`); KeyError for a name the models lack."""
        model: type[BaseModel] | None = cls
        for name in fields:
            if model is None or name not in model.model_fields:
                raise KeyError(f"{(model or cls).__name__} has no field {name!r} (path {'.'.join(fields)})")
            model = _model_in(model.model_fields[name].annotation)
        return "$." + ".".join(fields)


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The model a field holds (through `X | None` and `list[X]`), or None for a plain value."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return next((m for m in map(_model_in, get_args(annotation)) if m is not None), None)


class RecipeAsRun(Contract):
    """The archived recipe the job ran: identity and content."""

    uri: str
    etag: str
    version_id: str | None
    content: dict[str, Any] | None


class ArchivedOutput(Contract):
    """One output file copied to the archive, verified."""

    source: str
    source_etag: str
    archived: str
    archived_version_id: str | None
    bytes: int


class RunRecord(Contract):
    """`runs/<run>/run.json`: what a later run needs to continue, and what this run was."""

    status: Literal["SUCCEEDED", "FAILED"]
    run_id: str
    execution_arn: str
    job_name: str | None
    recipe: dict[str, str | None]
    recipe_as_run: RecipeAsRun | None
    datasets: list[dict[str, Any]]
    estimate: EstimateResult | None
    actual: dict[str, float | None]
    timings: dict[str, Any]
    outputs: list[ArchivedOutput]
    checkpoint: str | None
    next_run: dict[str, str] | None
    error: StepError | None


# --- Step inputs: what the state machine hands each function. The payload's keys are these field names
# (stacks/pipeline/payload.py builds each payload from the model), so no key is written twice.


class ValidateRecipeInput(Contract):
    """ValidateRecipe: the raw execution input (checked by the handler, so a console typo gets a clear error)."""

    input: dict[str, Any]
    execution_name: str


class RecipeInput(Contract):
    """PlanValidation and Preflight: the run summary from ValidateRecipe."""

    recipe: RecipeSummary


class MergeInput(Contract):
    """MergeReports: the plan and the results of the two maps."""

    plan: ValidationPlan
    shards: list[ShardResult]
    duplicates: list[PartitionDuplicates]


class EstimateInput(Contract):
    """Estimate: the recipe and its datasets as validated."""

    recipe: RecipeSummary
    datasets: list[DatasetSummary]


class JoinQueueInput(Contract):
    """JoinQueue: the execution, from the state machine's context object (its place in line is its start)."""

    execution_name: str
    execution_arn: str
    started_at: str


class AcquireInput(Contract):
    """AcquireLease: the run summary, its datasets as validated, and where the run stands in line."""

    recipe: dict[str, Any]
    lease: dict[str, Any]
    datasets: list[dict[str, Any]] = Field(default_factory=list)


class CapacityInput(Contract):
    """PrepareCapacity (no capacity yet) and CheckCapacity (the wait so far), for the lease's owner."""

    recipe: RecipeSummary
    execution_name: str
    capacity: CapacityState | None = None


class ReleaseInput(Contract):
    """ReleaseCapacity: the execution whose lease, if it owns it, is released."""

    execution_name: str


class SubmitInput(Contract):
    """SubmitJob: the recipe as proven, and the datasets' versions that must still be the current ones."""

    recipe: RecipeSummary
    datasets: list[DatasetSummary] = Field(default_factory=list)


class PollInput(Contract):
    """PollJob: the job and the number of polls so far."""

    job: SubmittedJob
    attempt: int = 0


class StateInput(Contract):
    """CancelJob: the whole state of the run, at whatever point it is."""

    state: RunState


class OutcomeInput(Contract):
    """ArchiveOutputs and Notify: the whole state of the run, its outcome and its execution."""

    state: RunState
    succeeded: bool
    execution_arn: str


class ScaleDownInput(Contract):
    """ScaleDown (the release workflow): the lease owner whose group is released, and when its release began."""

    owner: str
    started_at: str
