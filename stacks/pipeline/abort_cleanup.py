"""Clean-up of runs that end without their clean-up path: an execution aborted by hand or timed out.

An EventBridge rule on Step Functions "Execution Status Change" (ABORTED, TIMED_OUT) of the run state
machine invokes a function that cancels the run's job and releases the capacity.
"""

from __future__ import annotations

from typing import Final

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from stacks.pipeline.dead_letters import event_dead_letters

ENDED_WITHOUT_CLEANUP: Final = ("ABORTED", "TIMED_OUT")


class AbortCleanup(Construct):
    """Rule -> clean-up function (EventBridge retries; failed events and invocations kept in a dead-letter queue)."""

    def __init__(
        self, scope: Construct, construct_id: str, *, state_machine: sfn.IStateMachine, function: lambda_.Function
    ) -> None:
        super().__init__(scope, construct_id)
        self.dead_letters = event_dead_letters(
            self, function=function, holds="the status-change events whose clean-up failed (capacity may still be up)"
        )
        self.rule = events.Rule(
            self,
            "RunEndedWithoutCleanup",
            description="A run was aborted or timed out: cancel its job and release the cluster's capacity",
            event_pattern=events.EventPattern(
                source=["aws.states"],
                detail_type=["Step Functions Execution Status Change"],
                detail={"status": list(ENDED_WITHOUT_CLEANUP), "stateMachineArn": [state_machine.state_machine_arn]},
            ),
        )
        self.rule.add_target(
            targets.LambdaFunction(
                function, retry_attempts=8, max_event_age=Duration.hours(2), dead_letter_queue=self.dead_letters
            )
        )
