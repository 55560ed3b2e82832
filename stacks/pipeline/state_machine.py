"""The run state machine: validate everything, then spend; on any failure clean up and say why."""

from __future__ import annotations

from typing import Final

from aws_cdk import Arn, ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from novacpt.contract import (
    AcquireInput,
    CapacityInput,
    EstimateInput,
    JoinQueueInput,
    MergeInput,
    OutcomeInput,
    Partition,
    PartitionRequest,
    PollInput,
    PollState,
    RecipeInput,
    ReleaseInput,
    RunState,
    StateInput,
    StepError,
    SubmitInput,
    ValidateRecipeInput,
)
from novacpt.kernel.errors import JobTimedOut, TransientError
from novacpt.kernel.ports import JobState
from stacks.pipeline.functions import (
    ACQUIRE_LEASE,
    ARCHIVE_OUTPUTS,
    CANCEL_JOB,
    COUNT_DUPLICATES,
    ESTIMATE,
    JOIN_QUEUE,
    MERGE_REPORTS,
    NOTIFY,
    PLAN_VALIDATION,
    POLL_JOB,
    PREFLIGHT,
    PREPARE_CAPACITY,
    RELEASE_CAPACITY,
    SUBMIT_JOB,
    VALIDATE_RECIPE,
    VALIDATE_SHARD,
    FunctionSpec,
)
from stacks.pipeline.payload import item_selector, payload
from stacks.shared.nag import acknowledge_wildcard_resources

# Errors worth retrying: our handlers raise TransientError for throttling, 5xx and timeouts of AWS
# calls; the rest are Lambda service errors. Validation errors (RecipeInvalid, DatasetInvalid, ...)
# are never retried.
TRANSIENT_ERRORS: Final = [
    TransientError.__name__,
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "Lambda.ClientExecutionTimeoutException",
]
PARTITION_CONCURRENCY: Final = 8  # hash partitions counted at once (a few, unless the data is huge)


def _at(*fields: str) -> str:
    """The JSONPath of a field of the run state (novacpt.contract.RunState): KeyError for a name it lacks."""
    return RunState.path(*fields)


class RunStateMachine(Construct):
    """JoinQueue -> ValidateRecipe -> PlanValidation -> ValidateShards (Distributed Map) -> CountDuplicates
    -> MergeReports -> Estimate -> Preflight -> AcquireLease -> (wait in line, AcquireLease) until the run owns
    the cluster -> PrepareCapacity -> (wait, CheckCapacity) until the instances are in service -> SubmitJob
    -> poll -> release, archive, notify; every failure goes through cancel, release, archive and notify before
    failing. Release starts the release workflow only for a run that owns the lease."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: dict[str, lambda_.IFunction],
        log_retention: logs.RetentionDays,
        max_poll_hours: float,
        max_capacity_wait_minutes: int,
        max_queue_hours: float,
        shard_concurrency: int,
        log_key: kms.IKey | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self._functions = functions

        # Failure path: each clean-up step continues even if it fails itself.
        failed = sfn.Fail(self, "RunFailed", error_path=_at("error", "Error"), cause_path=_at("error", "Cause"))
        notify_failure = self._cleanup(
            "NotifyFailure", NOTIFY, payload(OutcomeInput, succeeded=False), _at("notification")
        )
        archive_failure = self._cleanup(
            "ArchiveOnFailure", ARCHIVE_OUTPUTS, payload(OutcomeInput, succeeded=False), _at("archive")
        )
        release_failure = self._cleanup(
            "ReleaseCapacityOnFailure", RELEASE_CAPACITY, payload(ReleaseInput), _at("release")
        )
        cancel_failure = self._cleanup("CancelJobOnFailure", CANCEL_JOB, payload(StateInput), _at("cancel"))
        steps: list[sfn.TaskStateBase] = [cancel_failure, release_failure, archive_failure, notify_failure]
        for step, following in zip(steps, [*steps[1:], failed], strict=True):
            step.add_catch(following, errors=["States.ALL"], result_path=_at("cleanup_error"))
            step.next(following)
        self.cleanup = cancel_failure

        # The run waits in line for the cluster from its start: its place is its start time.
        join_queue = self._task("JoinQueue", JOIN_QUEUE, payload(JoinQueueInput), _at("lease"))
        validate_recipe = self._task("ValidateRecipe", VALIDATE_RECIPE, payload(ValidateRecipeInput), _at("recipe"))
        plan = self._task("PlanValidation", PLAN_VALIDATION, payload(RecipeInput), _at("plan"))
        validate_shards = sfn.DistributedMap(
            self,
            "ValidateShards",
            items_path=_at("plan", "shards"),
            max_concurrency=shard_concurrency,
            result_path=_at("shards"),
            comment="Scan every byte-range shard of every dataset in parallel (one item each)",
        ).item_processor(self._invoke("ValidateShard", VALIDATE_SHARD, None))
        validate_shards.add_catch(self.cleanup, errors=["States.ALL"], result_path=_at("error"))
        count_duplicates = sfn.Map(
            self,
            "CountDuplicates",
            items_path=_at("plan", "partitions"),
            item_selector=item_selector(PartitionRequest, Partition),  # the partition, every shard's line count
            max_concurrency=PARTITION_CONCURRENCY,
            result_path=_at("duplicates"),
        ).item_processor(self._invoke("CountPartition", COUNT_DUPLICATES, None))
        count_duplicates.add_catch(self.cleanup, errors=["States.ALL"], result_path=_at("error"))
        merge = self._task("MergeReports", MERGE_REPORTS, payload(MergeInput), _at("datasets"))
        estimate = self._task("Estimate", ESTIMATE, payload(EstimateInput), _at("estimate"))
        # Quota, instance group, add-ons and EKS access hold before the run waits in line or asks for instances.
        preflight = self._task("Preflight", PREFLIGHT, payload(RecipeInput), _at("preflight"))
        # Only the head of the queue takes the lease, and only the lease's owner changes the group's size.
        acquire = self._task("AcquireLease", ACQUIRE_LEASE, payload(AcquireInput), _at("lease"))
        wait_in_line = sfn.Wait(self, "WaitInLine", time=sfn.WaitTime.seconds_path(_at("lease", "interval_seconds")))
        prepare = self._task(
            "PrepareCapacity", PREPARE_CAPACITY, payload(CapacityInput, capacity=None), _at("capacity")
        )
        # The same function looks again: it asks for nothing new while the cluster is scaling, and raises
        # CapacityUnavailable once max_capacity_wait_minutes have passed.
        check = self._task("CheckCapacity", PREPARE_CAPACITY, payload(CapacityInput), _at("capacity"))
        wait_for_capacity = sfn.Wait(
            self, "WaitForCapacity", time=sfn.WaitTime.seconds_path(_at("capacity", "interval_seconds"))
        )
        # The job starts only if its datasets are still the versions that were validated (DatasetChanged).
        submit = self._task("SubmitJob", SUBMIT_JOB, payload(SubmitInput), _at("job"))
        start_polling = sfn.Pass(
            self,
            "StartPolling",
            result=sfn.Result.from_object(PollState(attempt=0).model_dump(exclude_defaults=True)),
            result_path=_at("poll"),
        )
        poll = self._task(
            "PollJob", POLL_JOB, payload(PollInput, attempt=sfn.JsonPath.number_at(_at("poll", "attempt"))), _at("poll")
        )
        wait = sfn.Wait(self, "WaitForJob", time=sfn.WaitTime.seconds_path(_at("poll", "interval_seconds")))
        timed_out = sfn.Pass(
            self,
            "JobTimedOut",
            result=sfn.Result.from_object(
                StepError(
                    Error=JobTimedOut.__name__,
                    Cause=f"the job was still running after max_poll_hours ({max_poll_hours:g} h): it is being "
                    "cancelled; raise max_poll_hours in cdk.json if runs of this size need longer",
                ).model_dump()
            ),
            result_path=_at("error"),
        ).next(self.cleanup)
        release = self._task("ReleaseCapacity", RELEASE_CAPACITY, payload(ReleaseInput), _at("release"))
        archive = self._task("ArchiveOutputs", ARCHIVE_OUTPUTS, payload(OutcomeInput, succeeded=True), _at("archive"))
        notify = self._task("NotifySuccess", NOTIFY, payload(OutcomeInput, succeeded=True), _at("notification"))
        succeeded = sfn.Succeed(self, "RunSucceeded")
        job_finished = (
            sfn.Choice(self, "JobFinished")
            .when(sfn.Condition.string_equals(_at("poll", "state"), JobState.SUCCEEDED.value), release)
            .when(sfn.Condition.boolean_equals(_at("poll", "timed_out"), True), timed_out)
            .otherwise(wait)
        )
        lease_acquired = (
            sfn.Choice(self, "LeaseAcquired")
            .when(sfn.Condition.boolean_equals(_at("lease", "acquired"), True), prepare)
            .otherwise(wait_in_line)
        )
        wait_in_line.next(acquire)
        capacity_ready = (
            sfn.Choice(self, "CapacityReady")
            .when(sfn.Condition.boolean_equals(_at("capacity", "ready"), True), submit)
            .otherwise(wait_for_capacity)
        )
        wait_for_capacity.next(check).next(capacity_ready)
        wait.next(poll)
        release.next(archive).next(notify).next(succeeded)
        submit.next(start_polling).next(poll).next(job_finished)
        prepare.next(capacity_ready)
        definition = (
            join_queue.next(validate_recipe)
            .next(plan)
            .next(validate_shards)
            .next(count_duplicates)
            .next(merge)
            .next(estimate)
            .next(preflight)
            .next(acquire)
            .next(lease_acquired)
        )
        log_group = logs.LogGroup(
            self, "Logs", retention=log_retention, encryption_key=log_key, removal_policy=RemovalPolicy.DESTROY
        )
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            definition_body=sfn.DefinitionBody.from_chainable(definition),
            comment="Nova CPT run: validate recipe and datasets, estimate, train on HyperPod, archive, notify",
            # Waiting in line, waiting for capacity, polling, plus the other steps.
            timeout=Duration.minutes(
                int(max_queue_hours * 60) + max_capacity_wait_minutes + int(max_poll_hours * 60) + 180
            ),
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
        )
        stack = Stack.of(self)
        name = Arn.split(self.state_machine.state_machine_arn, ArnFormat.COLON_RESOURCE_NAME).resource_name
        children = [
            stack.format_arn(
                service="states",
                resource="execution",
                resource_name=f"{name}{suffix}",
                arn_format=ArnFormat.COLON_RESOURCE_NAME,
            )
            for suffix in ("/*:*", ":*")
        ]
        acknowledge_wildcard_resources(
            self.state_machine,
            ["*", *(f"{fn.function_arn}:*" for fn in functions.values()), *children],
            "Resource '*' is required by X-Ray (PutTraceSegments) and by CloudWatch Logs vended-log delivery "
            "(CreateLogDelivery and friends), which accept no other resource; '<function ARN>:*' is how CDK "
            "grants invoking the pipeline's own functions' versions; 'execution:<this state machine>...' are the "
            "child executions of its own Distributed Map (ValidateShards), which it must describe and stop.",
        )

    def _invoke(
        self, id_: str, function: FunctionSpec, payload: sfn.TaskInput | None, result_path: str | None = None
    ) -> tasks.LambdaInvoke:
        task = tasks.LambdaInvoke(
            self,
            id_,
            lambda_function=self._functions[function.name],
            payload=payload,
            payload_response_only=True,
            retry_on_service_exceptions=False,
            result_path=result_path,
        )
        task.add_retry(
            errors=TRANSIENT_ERRORS,
            interval=Duration.seconds(2),
            backoff_rate=2,
            max_attempts=4,
            max_delay=Duration.seconds(30),
            jitter_strategy=sfn.JitterType.FULL,
        )
        return task

    def _task(self, id_: str, function: FunctionSpec, payload: sfn.TaskInput, result_path: str) -> tasks.LambdaInvoke:
        """A main-path step: retried when transient, and any failure goes to the clean-up path."""
        task = self._invoke(id_, function, payload, result_path)
        task.add_catch(self.cleanup, errors=["States.ALL"], result_path=_at("error"))
        return task

    def _cleanup(
        self, id_: str, function: FunctionSpec, payload: sfn.TaskInput, result_path: str
    ) -> tasks.LambdaInvoke:
        """A clean-up step: retried when transient; when it still fails, the next one runs anyway (caught above)."""
        return self._invoke(id_, function, payload, result_path)
