"""Runs that share one deployment cannot hurt each other (the lease, the queue, the release workflow, versions).

Executed state machines (moto's Step Functions engine, handlers in process) on the stateful HyperPod fake.
In every scenario the fake records what must never happen: an instance group scaled below what a running
job uses, or a second job started while one runs on the group (`violations`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import boto3
import pytest

from novacpt.adapters.lease import Lease, LeaseTable
from novacpt.naming import execution_name, job_name
from novacpt_dev.emulator.events import object_created_event
from tests.examples import recipe_summary
from tests.integration.emulated import ACCOUNT, REGION, TRAIN, Pipeline, lite_recipe, put_outputs

pytestmark = pytest.mark.slow

BAD_RECIPE = lite_recipe(**{"global_batch_size: 256": "global_batch_size: 100"})
EIGHT = lite_recipe(**{"replicas: 16": "replicas: 8"})


def running(p: Pipeline) -> bool:
    """Some run or release execution has not ended: the only things that change the lease or the cluster."""
    sfn = boto3.client("stepfunctions", region_name=REGION)
    machines = [m for m in (p.local.state_machine_arn, p.local.release_state_machine_arn) if m]
    return any(sfn.list_executions(stateMachineArn=m, statusFilter="RUNNING")["executions"] for m in machines)


def wait_for(p: Pipeline, condition: Callable[[], bool], what: str) -> None:
    """Wait, with no clock, until `condition` holds; fail once every execution has ended without it.

    A hang (an execution that never ends) is pytest-timeout's to stop.
    """
    while not condition():
        if not running(p) and not condition():
            raise AssertionError(f"every execution ended before {what}")
        time.sleep(0.05)


def start(p: Pipeline, job: str, name: str, recipe: bytes | None = None, train: bytes = TRAIN) -> str:
    uri = p.drop(job, recipe or lite_recipe(), train)
    put_outputs(p, job, name)
    return p.local.start({"recipe_s3_uri": uri}, name=name)


def job_of(execution: str) -> str:
    return job_name("nova-lite-cpt", execution)


def _function(prefix: str) -> str:
    names = [f["FunctionName"] for f in boto3.client("lambda", region_name=REGION).list_functions()["Functions"]]
    (name,) = [n for n in names if n.startswith(f"Functions{prefix}")]
    return name


def table(p: Pipeline) -> LeaseTable:
    config = boto3.client("lambda", region_name=REGION).get_function_configuration(FunctionName=_function("JoinQueue"))
    group = config["Environment"]["Variables"]["LEASE_GROUP"]
    return LeaseTable(boto3.client("dynamodb", region_name=REGION), p.local.lease_table, group)


def lease(p: Pipeline) -> Lease | None:
    return table(p).lease()


def queued(p: Pipeline) -> list[str]:
    return [e.execution for e in table(p).queue()]


def scales(p: Pipeline) -> list[tuple[int, int]]:
    return [(s.before, s.after) for s in p.cluster.scales]


def states_of(arn: str) -> list[str]:
    events = boto3.client("stepfunctions", region_name=REGION).get_execution_history(executionArn=arn)["events"]
    return [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]


def releases_done(p: Pipeline) -> bool:
    sfn = boto3.client("stepfunctions", region_name=REGION)
    runs = sfn.list_executions(stateMachineArn=p.local.release_state_machine_arn)["executions"]
    return bool(runs) and all(r["status"] != "RUNNING" for r in runs)


def wait_released(p: Pipeline) -> None:
    """Every release workflow ended, the lease is free and the group is back at rest."""
    wait_for(p, lambda: releases_done(p) and lease(p) is None and p.cluster.current == 0, "the release")
    sfn = boto3.client("stepfunctions", region_name=REGION)
    runs = sfn.list_executions(stateMachineArn=p.local.release_state_machine_arn)["executions"]
    assert {r["status"] for r in runs} == {"SUCCEEDED"}


def training(p: Pipeline, execution: str) -> None:
    wait_for(p, lambda: p.cluster.running_jobs() == [job_of(execution)], f"{execution} to train")


def in_line(p: Pipeline, arn: str, execution: str) -> None:
    wait_for(p, lambda: "WaitInLine" in states_of(arn), f"{execution} to wait in line")
    assert queued(p)[0] == execution


@pytest.fixture
def shared(pipeline: Pipeline) -> Pipeline:
    """Jobs run until the test lets them finish."""
    pipeline.cluster.hold_jobs = True
    return pipeline


def test_b_with_a_bad_recipe_while_a_trains(shared: Pipeline) -> None:
    p = shared
    a = start(p, "team-a", "run-a")
    training(p, "run-a")
    b = p.local.wait(start(p, "team-b", "run-b", BAD_RECIPE))
    assert (b.status, b.error) == ("FAILED", "RecipeInvalid")
    assert "ReleaseCapacityOnFailure" in b.states  # its clean-up ran, and released nothing of A's
    assert p.cluster.running_jobs() == [job_of("run-a")]
    assert scales(p) == [(0, 16)]
    held = lease(p)
    assert held is not None and held.owner == "run-a" and held.job_name == job_of("run-a")
    p.cluster.hold_jobs = False
    assert p.local.wait(a).status == "SUCCEEDED"
    wait_released(p)
    assert scales(p) == [(0, 16), (16, 0)]
    assert p.cluster.violations == []


@pytest.mark.parametrize(("recipe", "replicas"), [(EIGHT, 8), (None, 16)], ids=["fewer-replicas", "same-replicas"])
def test_b_waits_in_line_while_a_trains_then_runs(shared: Pipeline, recipe: bytes | None, replicas: int) -> None:
    """Fewer replicas never resizes A's group; the same replicas never puts a second job on it."""
    p = shared
    a = start(p, "team-a", "run-a")
    training(p, "run-a")
    b = start(p, "team-b", "run-b", recipe)
    in_line(p, b, "run-b")
    assert p.cluster.running_jobs() == [job_of("run-a")]
    assert scales(p) == [(0, 16)]
    assert "PrepareCapacity" not in states_of(b)
    p.cluster.hold_jobs = False
    assert p.local.wait(a).status == "SUCCEEDED"
    result = p.local.wait(b)
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    wait_released(p)
    assert scales(p) == [(0, 16), (16, 0), (0, replicas), (replicas, 0)]
    assert p.cluster.jobs[job_of("run-b")].replicas == replicas
    assert p.cluster.violations == []


def test_a_run_that_waited_max_queue_hours_fails_cluster_busy_naming_the_holder(shared: Pipeline) -> None:
    p = shared
    a = start(p, "team-a", "run-a")
    training(p, "run-a")
    p.env["MAX_QUEUE_SECONDS"] = "2"  # max_queue_hours, shortened
    result = p.local.wait(start(p, "team-b", "run-b"))
    assert (result.status, result.error) == ("FAILED", "ClusterBusy")
    cause = result.cause or ""
    assert "run run-a" in cause and job_of("run-a") in cause and "max_queue_hours" in cause
    assert "PrepareCapacity" not in result.states and queued(p) == []  # it left the line, and scaled nothing
    assert scales(p) == [(0, 16)] and p.cluster.running_jobs() == [job_of("run-a")]
    held = lease(p)
    assert held is not None and held.owner == "run-a"
    p.cluster.hold_jobs = False
    assert p.local.wait(a).status == "SUCCEEDED"
    wait_released(p)
    assert p.cluster.violations == []


def test_runs_started_together_go_one_after_the_other(shared: Pipeline) -> None:
    p = shared
    a = start(p, "team-a", "run-a")
    b = start(p, "team-b", "run-b")
    training(p, "run-a")  # the first to arrive, whichever validated first
    in_line(p, b, "run-b")
    assert scales(p) == [(0, 16)]
    p.cluster.hold_jobs = False
    assert p.local.wait(a).status == "SUCCEEDED"
    assert p.local.wait(b).status == "SUCCEEDED"
    wait_released(p)
    assert list(p.cluster.jobs) == [job_of("run-a"), job_of("run-b")]
    assert scales(p) == [(0, 16), (16, 0), (0, 16), (16, 0)]
    assert p.cluster.violations == []


def test_only_the_lease_owner_may_change_the_group_size(shared: Pipeline) -> None:
    """PrepareCapacity for a run that does not hold the lease (while A does, and while nobody does) scales nothing."""
    p = shared
    lambda_ = boto3.client("lambda", region_name=REGION)
    payload = {"recipe": recipe_summary(run_id="run-x").model_dump(mode="json"), "execution_name": "run-x"}

    def prepare() -> str:
        answer = lambda_.invoke(FunctionName=_function("PrepareCapacity"), Payload=json.dumps(payload))
        assert answer.get("FunctionError"), "PrepareCapacity scaled for a run without the lease"
        return str(json.loads(answer["Payload"].read())["errorMessage"])

    assert "run run-x does not hold the cluster's lease (held by nobody)" in prepare()
    assert scales(p) == []
    a = start(p, "team-a", "run-a")
    training(p, "run-a")
    assert "held by run run-a" in prepare()
    assert scales(p) == [(0, 16)] and p.cluster.running_jobs() == [job_of("run-a")]
    p.cluster.hold_jobs = False
    assert p.local.wait(a).status == "SUCCEEDED"
    wait_released(p)
    assert p.cluster.violations == []


def _abort(p: Pipeline, arn: str) -> dict[str, object]:
    """Abort an execution and deliver the status-change event to CleanUpAborted (as the EventBridge rule would)."""
    sfn = boto3.client("stepfunctions", region_name=REGION)
    sfn.stop_execution(executionArn=arn)
    name = arn.rsplit(":", 1)[-1]
    event = {
        "version": "0",
        "source": "aws.states",
        "detail-type": "Step Functions Execution Status Change",
        "detail": {
            "executionArn": arn,
            "stateMachineArn": p.local.state_machine_arn,
            "name": name,
            "status": "ABORTED",
        },
    }
    answer = boto3.client("lambda", region_name=REGION).invoke(
        FunctionName=_function("CleanUpAborted"), Payload=json.dumps(event)
    )
    result: dict[str, object] = json.loads(answer["Payload"].read())
    return result


def test_an_abort_of_b_while_a_trains_touches_nothing_of_a(shared: Pipeline) -> None:
    p = shared
    a = start(p, "team-a", "run-a")
    training(p, "run-a")
    b = start(p, "team-b", "run-b")
    in_line(p, b, "run-b")
    expected = {"execution": "run-b", "owned": False, "left_queue": True, "cancelled": None, "release": None}
    assert _abort(p, b) == expected
    assert queued(p) == []
    assert p.cluster.running_jobs() == [job_of("run-a")]
    held = lease(p)
    assert held is not None and held.owner == "run-a"
    assert scales(p) == [(0, 16)]
    p.cluster.hold_jobs = False
    assert p.local.wait(a).status == "SUCCEEDED"
    wait_released(p)
    assert p.cluster.violations == []


def test_an_abort_during_a_scale_up_releases_once_the_update_ends(shared: Pipeline) -> None:
    """CleanUpAborted meets an Updating group: the release workflow waits it out, then scales down."""
    p = shared
    p.cluster.hold_updates = True
    a = start(p, "team-a", "run-a")
    wait_for(p, lambda: p.cluster.cluster_status == "Updating" and p.cluster.target == 16, "the scale-up")
    result = _abort(p, a)
    assert result["owned"] is True and result["cancelled"] == job_of("run-a")
    wait_for(p, lambda: len(p.called("FunctionsScaleDown")) >= 3, "the release to look again")
    assert p.cluster.target == 16 and p.cluster.conflicts == 0  # it waited: no update while one runs
    held = lease(p)
    assert held is not None and held.state == "releasing"
    p.cluster.complete_update()  # the scale-up ends (16 in service) ...
    wait_for(p, lambda: p.cluster.target == 0, "the scale-down to be asked")
    p.cluster.complete_update()  # ... and the scale-down too
    wait_released(p)
    assert scales(p) == [(0, 16), (16, 0)]
    assert p.cluster.jobs == {}  # the aborted run never started a job
    assert p.cluster.violations == []


@pytest.mark.parametrize("order", ["v1-first", "v2-first"])
def test_each_recipe_event_runs_its_own_version(pipeline: Pipeline, order: str) -> None:
    p = pipeline
    data = p.local.buckets["data"]
    key = "jobs/team-c/recipe.yaml"
    p.s3.put_object(Bucket=data, Key="jobs/team-c/train.jsonl", Body=TRAIN)
    versions = {
        replicas: p.s3.put_object(Bucket=data, Key=key, Body=recipe)["VersionId"]
        for replicas, recipe in ((16, lite_recipe()), (8, EIGHT))
    }
    names = {replicas: execution_name(data, key, version) for replicas, version in versions.items()}
    for name in names.values():
        put_outputs(p, "team-c", name)
    delivered = [16, 8] if order == "v1-first" else [8, 16]
    lambda_ = boto3.client("lambda", region_name=REGION)
    for replicas in delivered:
        event = object_created_event(data, key, versions[replicas], account=ACCOUNT, region=REGION)
        answer = json.loads(
            lambda_.invoke(FunctionName=_function("Trigger"), Payload=json.dumps(event))["Payload"].read()
        )
        assert answer["execution_name"] == names[replicas]
    sfn = boto3.client("stepfunctions", region_name=REGION)
    arns = {r: f"{p.local.state_machine_arn.replace(':stateMachine:', ':execution:')}:{n}" for r, n in names.items()}
    for replicas, arn in arns.items():
        result = p.local.wait(arn)
        assert result.status == "SUCCEEDED", (result.error, result.cause)
        described = json.loads(sfn.describe_execution(executionArn=arn)["input"])
        assert described["source_version_id"] == versions[replicas]
        record = json.loads(
            p.s3.get_object(Bucket=p.local.buckets["archive"], Key=f"runs/{names[replicas]}/run.json")["Body"].read()
        )
        assert record["recipe"]["source_version_id"] == versions[replicas]
        assert record["recipe_as_run"]["content"]["run"]["replicas"] == replicas
        assert p.cluster.jobs[job_name("nova-lite-cpt", names[replicas])].replicas == replicas
    wait_released(p)
    assert p.cluster.violations == []


def test_a_dataset_replaced_during_the_scale_up_never_trains(pipeline: Pipeline) -> None:
    p = pipeline
    p.cluster.hold_updates = True
    a = start(p, "team-a", "run-a")
    wait_for(p, lambda: p.cluster.cluster_status == "Updating", "the scale-up")
    data = p.local.buckets["data"]
    p.s3.put_object(Bucket=data, Key="jobs/team-a/train.jsonl", Body=b'{"text": "unvalidated"}\n')
    p.cluster.complete_update()
    p.cluster.hold_updates = False
    result = p.local.wait(a)
    assert (result.status, result.error) == ("FAILED", "DatasetChanged")
    assert "train s3://" in (result.cause or "") and "validated version" in (result.cause or "")
    assert p.cluster.jobs == {}  # nothing trained on the unvalidated bytes
    wait_released(p)  # it owned the group: released as on any failure
    record = json.loads(p.s3.get_object(Bucket=p.local.buckets["archive"], Key="runs/run-a/run.json")["Body"].read())
    assert record["error"]["Error"] == "DatasetChanged"
    assert p.cluster.violations == []


def test_a_dataset_replaced_while_in_line_fails_before_taking_any_capacity(shared: Pipeline) -> None:
    p = shared
    a = start(p, "team-a", "run-a")
    training(p, "run-a")
    b = start(p, "team-b", "run-b")
    in_line(p, b, "run-b")
    p.s3.put_object(Bucket=p.local.buckets["data"], Key="jobs/team-b/train.jsonl", Body=b'{"text": "new"}\n')
    result = p.local.wait(b)
    assert (result.status, result.error) == ("FAILED", "DatasetChanged")
    assert scales(p) == [(0, 16)] and p.cluster.running_jobs() == [job_of("run-a")]
    held = lease(p)
    assert held is not None and held.owner == "run-a"
    p.cluster.hold_jobs = False
    assert p.local.wait(a).status == "SUCCEEDED"
    wait_released(p)
    assert job_of("run-b") not in p.cluster.jobs
    assert p.cluster.violations == []


def test_run_json_records_a_dataset_replaced_while_the_job_ran(shared: Pipeline) -> None:
    p = shared
    a = start(p, "team-a", "run-a")
    training(p, "run-a")
    p.s3.put_object(Bucket=p.local.buckets["data"], Key="jobs/team-a/train.jsonl", Body=b'{"text": "later"}\n')
    p.cluster.hold_jobs = False
    assert p.local.wait(a).status == "SUCCEEDED"
    record = json.loads(p.s3.get_object(Bucket=p.local.buckets["archive"], Key="runs/run-a/run.json")["Body"].read())
    (train,) = record["datasets"]
    assert train["changed_during_run"] is True and train["version_id"]
    wait_released(p)
