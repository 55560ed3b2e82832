"""SubmitJob, PollJob and CancelJob states."""

from __future__ import annotations

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from lambdas.events import RecipeEvent, StateEvent
from lambdas.runtime import cluster, metrics, pipeline_handler, settings
from novacpt.contract import CancelResult, PollState, SubmittedJob
from novacpt.kernel.settings import PollTimingSettings
from novacpt.steps.job import cancel_step, poll_step, submit_step


class PollEvent(BaseModel):
    """The submitted job and how many polls came before."""

    job: SubmittedJob
    attempt: int = 0


@pipeline_handler(RecipeEvent)
def submit(event: RecipeEvent, context: LambdaContext) -> SubmittedJob:
    """Start the training job."""
    metrics.add_metric(name="JobsSubmitted", unit="Count", value=1)
    return submit_step(cluster(), event.recipe)


@pipeline_handler(PollEvent)
def poll(event: PollEvent, context: LambdaContext) -> PollState:
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


@pipeline_handler(StateEvent)
def cancel(event: StateEvent, context: LambdaContext) -> CancelResult:
    """Stop and delete the job if there is one."""
    return cancel_step(cluster(), event.state)
