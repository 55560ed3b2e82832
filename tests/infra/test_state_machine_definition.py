"""The run state machine's definition, executed by a States Language interpreter (tests/infra/asl.py).

Only the RunStateMachine construct is synthesised (functions imported by ARN, no bundling, under the AWS
Solutions checks), so these tests are fast enough for `make mutate`. They assert what an execution does:
which functions run, in what order, with an input their handlers' models accept, what is retried and for
how long, that every failure cancels, releases, archives and notifies before the run fails with the error
that caused it, and what outlives an update or a deletion of the stack.
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Callable, Iterator
from typing import Any, Literal

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk.assertions import Template
from pydantic import BaseModel

from lambdas import runtime
from novacpt.kernel.errors import (
    CapacityUnavailable,
    DatasetInvalid,
    JobFailed,
    RecipeInvalid,
    TransientError,
)
from novacpt_cli.remote import _job_health
from stacks.pipeline import functions as specs
from stacks.pipeline.state_machine import RunStateMachine
from stacks.shared.nag import add_nag_checks
from tests.infra.asl import STARTED, Failed, Interpreter, Run

ACCOUNT, REGION = "123456789012", "us-west-2"
MAX_POLL_HOURS, CAPACITY_WAIT_MINUTES, SHARD_CONCURRENCY, MAX_QUEUE_HOURS = 72.0, 60, 40, 24.0
FUNCTIONS = [value.name for value in vars(specs).values() if isinstance(value, specs.FunctionSpec)]
CLEANUP = ["CancelJob", "ReleaseCapacity", "ArchiveOutputs", "Notify"]
# What Lambda itself may raise when invoking a function (AWS's list of retryable Lambda service errors).
LAMBDA_SERVICE_ERRORS = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
]
TRANSIENT_ERRORS = ["TransientError", *LAMBDA_SERVICE_ERRORS]


def _synthesis_scope(fixture_name: str, config: pytest.Config) -> Literal["function", "module"]:
    """Once per module; once per test while mutmut records which tests run the construct (`make mutate`).

    mutmut selects, for each mutant, the tests that ran the mutated function during its stats run; a
    module-scoped synthesis would credit only the first test, and the others would never see a mutant.
    """
    return "function" if os.environ.get("MUTANT_UNDER_TEST") == "stats" else "module"


def _synthesise(
    max_queue_hours: float = MAX_QUEUE_HOURS,
    max_capacity_wait_minutes: int = CAPACITY_WAIT_MINUTES,
    max_poll_hours: float = MAX_POLL_HOURS,
) -> dict[str, Any]:
    """The construct's template, synthesised under the AWS Solutions checks (cdk-nag) as app.py does: a
    finding that is not acknowledged, e.g. a wildcard resource the acknowledgements miss, fails synthesis."""
    app = cdk.App()
    add_nag_checks(app)
    stack = cdk.Stack(app, "Run", env=cdk.Environment(account=ACCOUNT, region=REGION))
    arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:"
    functions = {name: lambda_.Function.from_function_arn(stack, name, arn + name) for name in FUNCTIONS}
    RunStateMachine(
        stack,
        "Run",  # the construct's id in the pipeline stack (stacks/pipeline/stack.py): the same logical ids
        functions=functions,
        log_retention=logs.RetentionDays.ONE_MONTH,
        max_poll_hours=max_poll_hours,
        max_capacity_wait_minutes=max_capacity_wait_minutes,
        max_queue_hours=max_queue_hours,
        shard_concurrency=SHARD_CONCURRENCY,
        log_key=kms.Key(stack, "LogKey", enable_key_rotation=True),
    )
    template: dict[str, Any] = Template.from_stack(stack).to_json()
    return template


@pytest.fixture(scope=_synthesis_scope)
def synthesised() -> dict[str, Any]:
    return _synthesise()


@pytest.fixture(scope=_synthesis_scope)
def definition(synthesised: dict[str, Any]) -> dict[str, Any]:
    (machine,) = [r for r in synthesised["Resources"].values() if r["Type"] == "AWS::StepFunctions::StateMachine"]
    body = machine["Properties"]["DefinitionString"]
    assert isinstance(body, str), "the functions are imported by ARN: the definition is a plain string"
    loaded: dict[str, Any] = json.loads(body)
    return loaded


def _raise(error: type[Exception] | str, message: str = "") -> Callable[[Any], Any]:
    def fail(_: Any) -> Any:
        if isinstance(error, str):
            raise Failed(error, message)
        raise error(message)

    return fail


def _sequence(*answers: Any) -> Callable[[Any], Any]:
    """A function answering each call with the next answer (an exception class or Failed is raised)."""
    remaining: Iterator[Any] = iter(answers)
    last: list[Any] = [None]

    def answer(_: Any) -> Any:
        value = next(remaining, last[0])
        last[0] = value
        if isinstance(value, Failed):
            raise value
        if isinstance(value, type) and issubclass(value, Exception):
            raise value("scripted")
        return value

    return answer


def healthy(**changes: Callable[[Any], Any]) -> dict[str, Callable[[Any], Any]]:
    """Every function answering as on a good run: two shards, one partition, capacity and job ready at once."""
    capacity = {"replicas": 4, "ready": True, "requested_at": "t0", "waited_seconds": 0, "interval_seconds": 60}
    functions: dict[str, Callable[[Any], Any]] = {
        "JoinQueue": lambda p: {"acquired": False, "position": 1, "interval_seconds": 60},
        "AcquireLease": lambda p: {"acquired": True, "position": 0, "interval_seconds": 60},
        "ValidateRecipe": lambda p: {"replicas": 4, "name": "trial"},
        "PlanValidation": lambda p: {
            "shards": [{"shard": 0}, {"shard": 1}],
            "partitions": [{"run_id": "r", "role": "train", "partition": 0}],
        },
        "ValidateShard": lambda p: {"lines": 10 + p["shard"]},
        "CountDuplicates": lambda p: {"duplicates": 0},
        "MergeReports": lambda p: [{"role": "train"}],
        "Estimate": lambda p: {"hours": 1},
        "Preflight": lambda p: {"ok": True},
        "PrepareCapacity": lambda p: capacity,
        "SubmitJob": lambda p: {"job_name": "trial-1234"},
        "PollJob": lambda p: {
            "attempt": p["attempt"] + 1,
            "state": "SUCCEEDED",
            "interval_seconds": 300,
            "timed_out": False,
        },
        "ReleaseCapacity": lambda p: {"released": True},
        "CancelJob": lambda p: {"cancelled": None},
        "ArchiveOutputs": lambda p: {"archived": True},
        "Notify": lambda p: {"sent": True},
    }
    return {**functions, **changes}


def run(definition: dict[str, Any], **changes: Callable[[Any], Any]) -> Run:
    return Interpreter(definition, healthy(**changes)).run({"recipe_s3_uri": "s3://data/jobs/a/recipe.yaml"})


MAIN_PATH = [
    "JoinQueue",
    "ValidateRecipe",
    "PlanValidation",
    "ValidateShard",
    "ValidateShard",
    "CountDuplicates",
    "MergeReports",
    "Estimate",
    "Preflight",
    "AcquireLease",
    "PrepareCapacity",
    "SubmitJob",
    "PollJob",
]


def test_a_good_run_validates_everything_before_asking_for_capacity_then_trains_releases_archives_notifies(
    definition: dict[str, Any],
) -> None:
    result = run(definition)
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert result.invoked() == [*MAIN_PATH, "ReleaseCapacity", "ArchiveOutputs", "Notify"]
    assert "CancelJob" not in result.invoked()
    (archive,) = result.payloads("ArchiveOutputs")
    (notify,) = result.payloads("Notify")
    for payload in (archive, notify):
        assert payload["succeeded"] is True
        assert payload["execution_arn"] == "arn:aws:states:::execution:sm:run-1"
        assert payload["state"]["job"] == {"job_name": "trial-1234"}
    # The outputs of each step reach the steps that need them.
    (validate,) = result.payloads("ValidateRecipe")
    assert validate == {"input": {"recipe_s3_uri": "s3://data/jobs/a/recipe.yaml"}, "execution_name": "run-1"}
    assert result.payloads("ValidateShard") == [{"shard": 0}, {"shard": 1}]
    (partition,) = result.payloads("CountDuplicates")
    assert partition == {"run_id": "r", "role": "train", "partition": 0, "shards": [{"lines": 10}, {"lines": 11}]}
    (merge,) = result.payloads("MergeReports")
    assert merge["shards"] == [{"lines": 10}, {"lines": 11}] and merge["duplicates"] == [{"duplicates": 0}]
    assert merge["plan"]["partitions"] == [{"run_id": "r", "role": "train", "partition": 0}]
    (estimate,) = result.payloads("Estimate")
    assert estimate == {"recipe": {"replicas": 4, "name": "trial"}, "datasets": [{"role": "train"}]}
    (join,) = result.payloads("JoinQueue")
    assert join == {
        "execution_name": "run-1",
        "execution_arn": "arn:aws:states:::execution:sm:run-1",
        "started_at": STARTED,
    }
    (acquire,) = result.payloads("AcquireLease")
    assert acquire["lease"] == {"acquired": False, "position": 1, "interval_seconds": 60}
    assert acquire["recipe"] == {"replicas": 4, "name": "trial"} and acquire["datasets"] == [{"role": "train"}]
    assert result.payloads("Preflight") == [{"recipe": {"replicas": 4, "name": "trial"}}]
    assert result.payloads("PrepareCapacity") == [
        {"recipe": {"replicas": 4, "name": "trial"}, "execution_name": "run-1"}
    ]
    (submit,) = result.payloads("SubmitJob")
    assert submit == {"recipe": {"replicas": 4, "name": "trial"}, "datasets": [{"role": "train"}]}
    assert result.payloads("PollJob") == [{"job": {"job_name": "trial-1234"}, "attempt": 0}]
    assert result.payloads("ReleaseCapacity") == [{"execution_name": "run-1"}]
    assert result.output["notification"] == {"sent": True}
    assert result.output["archive"] == {"archived": True}


def test_the_run_waits_for_capacity_at_the_interval_it_was_given_and_asks_again(definition: dict[str, Any]) -> None:
    waiting = {"replicas": 4, "ready": False, "requested_at": "t0", "waited_seconds": 0, "interval_seconds": 90}
    result = run(definition, PrepareCapacity=_sequence(waiting, waiting, {**waiting, "ready": True}))
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert result.invoked().count("PrepareCapacity") == 3
    assert result.invoked().index("SubmitJob") > max(
        i for i, f in enumerate(result.invoked()) if f == "PrepareCapacity"
    )
    assert [w for w in result.waits if w[0] == "WaitForCapacity"] == [("WaitForCapacity", 90.0)] * 2
    # CheckCapacity hands the capacity state back, so the function knows when the wait began.
    first, *checks = result.payloads("PrepareCapacity")
    assert "capacity" not in first
    assert all(check["capacity"]["requested_at"] == "t0" for check in checks)


def test_the_job_is_polled_at_its_interval_until_it_succeeds(definition: dict[str, Any]) -> None:
    running = {"attempt": 1, "state": "RUNNING", "interval_seconds": 120, "timed_out": False}
    done = {**running, "attempt": 3, "state": "SUCCEEDED"}
    result = run(definition, PollJob=_sequence(running, {**running, "attempt": 2}, done))
    assert result.status == "SUCCEEDED"
    assert [p["attempt"] for p in result.payloads("PollJob")] == [0, 1, 2]
    assert [w for w in result.waits if w[0] == "WaitForJob"] == [("WaitForJob", 120.0)] * 2
    assert result.invoked()[-3:] == ["ReleaseCapacity", "ArchiveOutputs", "Notify"]


def _failure_path(result: Run, error: str) -> None:
    assert result.status == "FAILED"
    assert result.error == error, (result.error, result.cause)
    tail = [f for f in result.invoked() if f in CLEANUP]
    assert list(dict.fromkeys(tail)) == CLEANUP, result.invoked()  # each in this order (retries repeat one)
    assert result.invoked()[-2:] == CLEANUP[-2:]
    for name in ("ArchiveOutputs", "Notify"):
        (payload,) = result.payloads(name)
        assert payload["succeeded"] is False
        assert payload["state"]["error"]["Error"] == error
        assert payload["execution_arn"] == "arn:aws:states:::execution:sm:run-1"
    assert all(release == {"execution_name": "run-1"} for release in result.payloads("ReleaseCapacity"))


@pytest.mark.parametrize(
    ("function", "error"),
    [
        ("JoinQueue", RecipeInvalid),
        ("ValidateRecipe", RecipeInvalid),
        ("PlanValidation", DatasetInvalid),
        ("ValidateShard", DatasetInvalid),
        ("CountDuplicates", DatasetInvalid),
        ("MergeReports", DatasetInvalid),
        ("Estimate", RecipeInvalid),
        ("Preflight", RecipeInvalid),
        ("AcquireLease", RecipeInvalid),
        ("PrepareCapacity", CapacityUnavailable),
        ("SubmitJob", RecipeInvalid),
        ("PollJob", JobFailed),
    ],
)
def test_any_failing_step_cancels_releases_archives_notifies_then_fails_with_its_error(
    definition: dict[str, Any], function: str, error: type[Exception]
) -> None:
    result = run(definition, **{function: _raise(error, "what went wrong")})
    _failure_path(result, error.__name__)
    assert result.cause == "what went wrong"
    assert result.invoked().count(function) == 1, "a validation error is never retried"
    assert "SubmitJob" not in result.invoked()[result.invoked().index(function) + 1 :]


def test_capacity_that_never_comes_is_caught_by_check_capacity_too(definition: dict[str, Any]) -> None:
    waiting = {"replicas": 4, "ready": False, "requested_at": "t0", "waited_seconds": 0, "interval_seconds": 60}
    result = run(definition, PrepareCapacity=_sequence(waiting, CapacityUnavailable))
    _failure_path(result, "CapacityUnavailable")
    assert "SubmitJob" not in result.invoked()


def test_a_job_still_running_after_max_poll_hours_is_cancelled(definition: dict[str, Any]) -> None:
    result = run(definition, PollJob=lambda p: {"attempt": 9, "state": "RUNNING", "timed_out": True})
    _failure_path(result, "JobTimedOut")
    assert f"max_poll_hours ({MAX_POLL_HOURS:g} h)" in result.cause
    (cancel,) = result.payloads("CancelJob")
    assert cancel["state"]["job"] == {"job_name": "trial-1234"}


@pytest.mark.parametrize("failing", CLEANUP)
def test_a_failing_cleanup_step_does_not_stop_the_others_and_the_first_error_is_reported(
    definition: dict[str, Any], failing: str
) -> None:
    result = run(definition, PollJob=_raise(JobFailed, "exit 1"), **{failing: _raise(RuntimeError, "cleanup broke")})
    assert result.status == "FAILED"
    assert (result.error, result.cause) == ("JobFailed", "exit 1")
    assert [f for f in result.invoked() if f in CLEANUP] == CLEANUP


@pytest.mark.parametrize("error", TRANSIENT_ERRORS)
def test_transient_and_lambda_service_errors_are_retried_with_growing_capped_delays(
    definition: dict[str, Any], error: str
) -> None:
    result = run(definition, Estimate=_sequence(Failed(error, "x"), Failed(error, "x"), Failed(error, "x"), {"h": 1}))
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert result.invoked().count("Estimate") == 4
    delays = [seconds for name, seconds in result.waits if name == "Estimate retry"]
    assert delays == sorted(delays) and delays[0] >= 1 and delays[-1] > delays[0] and max(delays) <= 60


@pytest.mark.parametrize("error", TRANSIENT_ERRORS)
def test_an_error_that_keeps_coming_is_given_up_on_after_a_few_attempts(definition: dict[str, Any], error: str) -> None:
    result = run(definition, SubmitJob=_raise(error, "throttled"))
    _failure_path(result, error)
    assert 2 <= result.invoked().count("SubmitJob") <= 6


def test_every_function_call_is_retried_when_transient(definition: dict[str, Any]) -> None:
    """Each step, main path, map items and clean-up, survives one TransientError."""
    for name in healthy():
        result = run(definition, **{name: _sequence(TransientError, healthy()[name]({"attempt": 0, "shard": 0}))})
        assert result.status == "SUCCEEDED", (name, result.error)


def test_a_run_waits_in_line_at_its_interval_and_asks_for_instances_only_once_it_holds_the_lease(
    definition: dict[str, Any],
) -> None:
    waiting = {"acquired": False, "position": 2, "interval_seconds": 45}
    result = run(definition, AcquireLease=_sequence(waiting, {**waiting, "position": 1}, {**waiting, "acquired": True}))
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    calls = result.invoked()
    assert calls.count("AcquireLease") == 3
    assert calls.index("PrepareCapacity") > max(i for i, f in enumerate(calls) if f == "AcquireLease")
    assert [w for w in result.waits if w[0] == "WaitInLine"] == [("WaitInLine", 45.0)] * 2
    # Each attempt hands the last answer back: the function knows the run's place.
    assert [p["lease"]["position"] for p in result.payloads("AcquireLease")] == [1, 2, 1]


def test_a_run_that_never_gets_the_lease_fails_through_the_cleanup(definition: dict[str, Any]) -> None:
    waiting = {"acquired": False, "position": 2, "interval_seconds": 45}
    result = run(definition, AcquireLease=_sequence(waiting, CapacityUnavailable))
    _failure_path(result, "CapacityUnavailable")
    assert "PrepareCapacity" not in result.invoked()


def test_validation_runs_shards_in_parallel_and_partitions_a_few_at_a_time(definition: dict[str, Any]) -> None:
    states = definition["States"]
    maps = [s for s in states.values() if s["Type"] == "Map"]
    distributed = [m for m in maps if m["ItemProcessor"]["ProcessorConfig"]["Mode"] == "DISTRIBUTED"]
    inline = [m for m in maps if m["ItemProcessor"]["ProcessorConfig"]["Mode"] == "INLINE"]
    assert [m["MaxConcurrency"] for m in distributed] == [SHARD_CONCURRENCY]
    assert len(inline) == 1 and 1 < inline[0]["MaxConcurrency"] <= 16


def test_the_execution_is_traced_and_logged_to_an_encrypted_group_deleted_with_the_stack(
    synthesised: dict[str, Any],
) -> None:
    resources = synthesised["Resources"]
    (machine,) = [r for r in resources.values() if r["Type"] == "AWS::StepFunctions::StateMachine"]
    assert machine["Properties"]["TracingConfiguration"] == {"Enabled": True}
    logging = machine["Properties"]["LoggingConfiguration"]
    assert logging["Level"] == "ALL" and logging["IncludeExecutionData"] is False
    (destination,) = logging["Destinations"]
    group_id = destination["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"][0]
    group = resources[group_id]
    assert group["Properties"]["RetentionInDays"] == 30
    assert group["Properties"]["KmsKeyId"]["Fn::GetAtt"][0] in resources
    # Only the buckets and the storage key outlive their stacks (README, "Tear down"); the pipeline's log key
    # is deleted with it, so a retained group would be left behind unreadable, still billing its storage.
    assert group["DeletionPolicy"] == group["UpdateReplacePolicy"] == "Delete"


def test_an_update_keeps_the_state_machine_and_its_log_group(synthesised: dict[str, Any]) -> None:
    """A resource whose logical id changes is a new resource to CloudFormation: an update would replace the
    state machine (and its execution history, which `cpt runs` and `cpt report` read) and delete the log group
    with its logs. The ids are those of the deployed pipeline stack (construct `Run`), which AWS's CDK guide
    asks to keep stable for stateful resources."""
    ids = {r["Type"]: logical_id for logical_id, r in synthesised["Resources"].items()}
    assert ids["AWS::StepFunctions::StateMachine"] == "RunStateMachine106B9D3D"
    assert ids["AWS::Logs::LogGroup"] == "RunLogsFBDF6876"


# (queue hours, capacity wait minutes, poll hours): the configuration's defaults' neighbourhood and its extremes
# (stacks/config.py: queue <= 168 h, capacity wait 10 to 720 min, poll <= 240 h).
WAIT_LIMITS = [
    (MAX_QUEUE_HOURS, CAPACITY_WAIT_MINUTES, MAX_POLL_HOURS),
    (0.5, 720, 1.0),
    (168.0, 10, 240.0),
]


def _timeout_seconds(template: dict[str, Any]) -> float:
    (machine,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::StepFunctions::StateMachine"]
    return float(json.loads(machine["Properties"]["DefinitionString"])["TimeoutSeconds"])


def test_the_execution_outlasts_every_bounded_wait_by_the_same_allowance_and_is_never_unbounded(
    synthesised: dict[str, Any],
) -> None:
    """A run may wait in line, wait for its instances and poll its job each up to its limit, and must then
    still reach the clean-up (cancel, release: where the money is) before the execution's own timeout, which
    skips it. The other steps take as long whatever those limits are, so the allowance beyond the waits does
    not depend on them; it covers those steps without leaving the execution unbounded."""
    allowances = set()
    for limits in WAIT_LIMITS:
        queue_hours, capacity_minutes, poll_hours = limits
        template = synthesised if limits == WAIT_LIMITS[0] else _synthesise(*limits)
        waits = queue_hours * 3600 + capacity_minutes * 60 + poll_hours * 3600
        allowances.add(_timeout_seconds(template) - waits)
    (allowance,) = allowances
    assert 3600 <= allowance <= 6 * 3600


def _tasks(states: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every Task state, map items' included."""
    for name, state in states.items():
        if state["Type"] == "Task":
            yield name, state
        if "ItemProcessor" in state:
            yield from _tasks(state["ItemProcessor"]["States"])


def test_every_function_call_retries_transient_errors_with_full_jitter(definition: dict[str, Any]) -> None:
    """Up to SHARD_CONCURRENCY shards (and a few partitions) invoke their functions at once: retries at fixed
    delays would come back in lockstep to the throttled API or Lambda and be throttled again."""
    tasks = dict(_tasks(definition["States"]))
    assert set(healthy()) <= {str(task["Resource"]).rsplit(":", 1)[-1] for task in tasks.values()}
    for name, task in tasks.items():
        for error in TRANSIENT_ERRORS:
            # Step Functions applies the first retrier whose errors match.
            retrier = next(r for r in task["Retry"] if error in r["ErrorEquals"] or "States.ALL" in r["ErrorEquals"])
            assert retrier.get("JitterStrategy") == "FULL", (name, error, retrier)


@pytest.mark.parametrize("error", TRANSIENT_ERRORS)
def test_a_transient_error_is_retried_long_enough_to_outlast_a_burst_of_throttling(
    definition: dict[str, Any], error: str
) -> None:
    """Lambda adds concurrency for a function in steps 10 s apart, so a burst that was throttled is served
    within one step: the retries, each waiting a random time up to its delay (full jitter, half on average),
    must span 10 s on average before the run gives up."""
    result = run(definition, Estimate=_raise(error, "throttled"))
    _failure_path(result, error)
    assert result.waited_before("ReleaseCapacity") / 2 >= 10


@pytest.mark.parametrize("error", TRANSIENT_ERRORS)
def test_a_run_that_owns_the_cluster_releases_it_within_a_minute_of_retries_when_errors_persist(
    definition: dict[str, Any], error: str
) -> None:
    """The job's poll fails and keeps failing, and so does cancelling it (the cluster's API is down): the P5
    instances bill while the run retries, so at most a minute of retry delays passes before the release."""
    result = run(definition, PollJob=_raise(error, "down"), CancelJob=_raise(error, "down"))
    _failure_path(result, error)
    assert result.waited_before("ReleaseCapacity") <= 60


def _input_models() -> dict[str, type[BaseModel]]:
    """Each function's event model, as its handler registers it (lambdas.runtime.pipeline_handler)."""
    models = {}
    for spec in (value for value in vars(specs).values() if isinstance(value, specs.FunctionSpec)):
        importlib.import_module(spec.handler.rpartition(".")[0])
        models[spec.name] = runtime.INPUT_MODELS[spec.handler]
    return models


def test_every_payload_is_an_event_its_handlers_model_accepts(definition: dict[str, Any]) -> None:
    """A handler parses its event with its contract model, which forbids unknown fields: a task handed the
    whole run state instead of its fields would fail on every run, and carry the state's size besides."""
    models = _input_models()
    waiting_line = {"acquired": False, "position": 1, "interval_seconds": 60}
    waiting = {"replicas": 4, "ready": False, "requested_at": "t0", "waited_seconds": 0, "interval_seconds": 60}
    good = run(
        definition,
        AcquireLease=_sequence(waiting_line, {**waiting_line, "acquired": True}),
        PrepareCapacity=_sequence(waiting, {**waiting, "ready": True}),
    )
    failed = run(definition, PollJob=_raise(JobFailed, "exit 1"))
    assert good.status == "SUCCEEDED" and failed.status == "FAILED"
    calls = [*good.calls, *failed.calls]
    assert {name for name, _ in calls} >= set(healthy())
    for function, event in calls:
        if function == "ValidateShard":
            continue  # the map's item, as PlanValidation wrote it
        model = models[function]
        required = {name for name, info in model.model_fields.items() if info.is_required()}
        assert required <= set(event) <= set(model.model_fields), (function, model.__name__, sorted(event))


def test_cpt_status_finds_the_jobs_health_in_the_history_a_run_leaves(definition: dict[str, Any]) -> None:
    """`cpt status` shows a running job's restarts and stuck pod from the output of the state that polls the
    job, which it looks for by name in the execution history."""
    stuck = "pod trial-master-0 container pytorch: CrashLoopBackOff"
    running = {"attempt": 1, "state": "RUNNING", "interval_seconds": 120, "timed_out": False, "restarts": 2}
    done = {**running, "attempt": 2, "state": "SUCCEEDED", "restarts": 5, "stuck": stuck}
    result = run(definition, PollJob=_sequence(running, done))
    assert result.invoked().count("PollJob") == 2

    class History:
        def get_execution_history(self, **_: Any) -> dict[str, Any]:
            exited = [{"name": name, "output": json.dumps(output)} for name, output in reversed(result.exits)]
            return {"events": [{"stateExitedEventDetails": details} for details in exited]}

    execution = {"executionArn": "arn:aws:states:::execution:sm:run-1", "status": "RUNNING"}
    assert _job_health(History(), execution) == ("5", stuck)
