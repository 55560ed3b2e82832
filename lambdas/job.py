"""SubmitJob, PollJob and CancelJob states."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field

from lambdas.events import RecipeEvent, StateEvent
from lambdas.runtime import cluster, env, metrics, pipeline_handler
from novacpt.steps.job import cancel_step, poll_step, submit_step


class PollEnv(BaseModel):
    """How often to look at the job, and for how long at most."""

    model_config = ConfigDict(extra="ignore")
    poll_interval_seconds: int = Field(ge=0)
    max_poll_seconds: float = Field(gt=0)
    max_stuck_minutes: float = Field(default=30.0, gt=0)


class PollEvent(BaseModel):
    """The submitted job and how many polls came before."""

    job: dict[str, Any]
    attempt: int = 0


@pipeline_handler(RecipeEvent)
def submit(event: RecipeEvent, context: LambdaContext) -> dict[str, Any]:
    """Start the training job."""
    metrics.add_metric(name="JobsSubmitted", unit="Count", value=1)
    return submit_step(cluster(), event.recipe)


@pipeline_handler(PollEvent)
def poll(event: PollEvent, context: LambdaContext) -> dict[str, Any]:
    """The job's state (JobFailed when it failed)."""
    settings = env(PollEnv)
    return poll_step(
        cluster(),
        event.job,
        event.attempt,
        interval_seconds=settings.poll_interval_seconds,
        max_seconds=settings.max_poll_seconds,
        max_stuck_minutes=settings.max_stuck_minutes,
    )


@pipeline_handler(StateEvent)
def cancel(event: StateEvent, context: LambdaContext) -> dict[str, Any]:
    """Stop and delete the job if there is one."""
    return cancel_step(cluster(), event.state)
