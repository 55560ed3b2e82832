"""SubmitJob, PollJob and CancelJob states."""

from __future__ import annotations

from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.runtime import cluster, metrics, pipeline_handler, s3, settings
from novacpt.contract import CancelResult, PollInput, PollState, StateInput, SubmitInput, SubmittedJob
from novacpt.kernel.settings import PollTimingSettings
from novacpt.steps.job import cancel_step, poll_step, submit_step
from novacpt.steps.versions import require_unchanged


@pipeline_handler(SubmitInput)
def submit(event: SubmitInput, context: LambdaContext) -> SubmittedJob:
    """Start the training job, unless a dataset was replaced since it was validated (DatasetChanged)."""
    require_unchanged(s3(), [d.model_dump() for d in event.datasets])
    metrics.add_metric(name="JobsSubmitted", unit="Count", value=1)
    return submit_step(cluster(), event.recipe)


@pipeline_handler(PollInput)
def poll(event: PollInput, context: LambdaContext) -> PollState:
    """The job's state (JobFailed when it failed)."""
    config = settings(PollTimingSettings)
    return poll_step(
        cluster(),
        event.job,
        event.attempt,
        interval_seconds=config.poll_interval_seconds,
        max_seconds=config.max_poll_seconds,
        max_stuck_minutes=config.max_stuck_minutes,
    )


@pipeline_handler(StateInput)
def cancel(event: StateInput, context: LambdaContext) -> CancelResult:
    """Stop and delete the job if there is one."""
    return cancel_step(cluster(), event.state)
