"""The trigger's one StartExecution call, checked by botocore's Stubber against the Step Functions API.

What Step Functions receives decides whether a run starts, and which one: the state machine, the
deterministic name (a repeated event must map to the same execution) and the input the run reads.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.parser.models import S3EventNotificationEventBridgeModel
from botocore.stub import Stubber

from lambdas.trigger import start_run
from novacpt.contract import ExecutionInput
from novacpt.kernel.settings import TriggerSettings
from novacpt.naming import execution_name
from novacpt_dev.emulator.events import object_created_event

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

REGION, ACCOUNT, DATA = "us-east-1", "123456789012", "nova-data-bucket"
MACHINE = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:NovaCptRun"
CONFIG = TriggerSettings(state_machine_arn=MACHINE, drop_bucket=DATA)


def event(
    key: str, *, bucket: str = DATA, version: str | None = "v1", **top: str
) -> S3EventNotificationEventBridgeModel:
    body = object_created_event(bucket, key, version, account=ACCOUNT, region=REGION) | top
    return S3EventNotificationEventBridgeModel.model_validate(body)


@pytest.fixture
def sfn() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("stepfunctions", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def test_a_recipe_drop_starts_the_state_machine_with_a_name_of_that_version_and_the_recipe_to_read(
    sfn: tuple[Any, Stubber],
) -> None:
    client, stubber = sfn
    key = "jobs/trial-7/recipe.yaml"
    name = execution_name(DATA, key, "v9")
    expected_input = ExecutionInput(recipe_s3_uri=f"s3://{DATA}/{key}", source_version_id="v9").model_dump_json()
    arn = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:NovaCptRun:{name}"
    stubber.add_response(
        "start_execution",
        {"executionArn": arn, "startDate": "2026-11-28T00:00:00Z"},
        {"stateMachineArn": MACHINE, "name": name, "input": expected_input},
    )
    result = start_run(event(key, version="v9"), CONFIG, client)
    assert result == {"started": True, "execution_name": name, "execution_arn": arn}
    sent = json.loads(expected_input)
    assert (
        sent["recipe_s3_uri"] == "s3://nova-data-bucket/jobs/trial-7/recipe.yaml" and sent["source_version_id"] == "v9"
    )
    assert name.startswith("trial-7-")


def test_a_repeated_event_starts_nothing_and_says_which_execution_exists(sfn: tuple[Any, Stubber]) -> None:
    client, stubber = sfn
    stubber.add_client_error("start_execution", "ExecutionAlreadyExists", "Execution Already Exists")
    result = start_run(event("jobs/trial-7/recipe.yaml"), CONFIG, client)
    name = execution_name(DATA, "jobs/trial-7/recipe.yaml", "v1")
    assert result == {"started": False, "reason": "already started", "execution_name": name}


def test_another_start_error_is_not_swallowed(sfn: tuple[Any, Stubber]) -> None:
    client, stubber = sfn
    stubber.add_client_error("start_execution", "StateMachineDoesNotExist", "gone")
    with pytest.raises(client.exceptions.StateMachineDoesNotExist):
        start_run(event("jobs/trial-7/recipe.yaml"), CONFIG, client)


@pytest.mark.parametrize(
    ("changes", "bucket"),
    [
        ({"source": "aws.events"}, DATA),
        ({"detail-type": "Object Deleted"}, DATA),
        ({}, "someone-elses-bucket"),
    ],
)
def test_anything_but_an_object_created_in_the_drop_bucket_starts_nothing(
    sfn: tuple[Any, Stubber], changes: dict[str, str], bucket: str
) -> None:
    client, _ = sfn  # no response queued: any call fails the test
    result = start_run(event("jobs/trial-7/recipe.yaml", bucket=bucket, **changes), CONFIG, client)
    assert result == {"started": False, "reason": "not an S3 Object Created event of the data bucket"}


@pytest.mark.parametrize(
    "key", ["jobs/trial-7/train.jsonl", "jobs/recipe.yaml", "jobs/a/b/recipe.yaml", "x/a/recipe.yaml"]
)
def test_other_keys_start_nothing_and_are_named(sfn: tuple[Any, Stubber], key: str) -> None:
    client, _ = sfn
    assert start_run(event(key), CONFIG, client) == {"started": False, "reason": "not a recipe drop", "key": key}


class Recorded:
    """The trigger's log lines and metrics as CloudWatch would get them: level, message, structured fields."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str, dict[str, Any]]] = []
        self.metrics: list[dict[str, Any]] = []

    def warning(self, message: str, *, extra: dict[str, Any]) -> None:
        self.lines.append(("WARNING", message, extra))

    def info(self, message: str, *, extra: dict[str, Any]) -> None:
        self.lines.append(("INFO", message, extra))

    def add_metric(self, **metric: Any) -> None:
        self.metrics.append(metric)


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> Recorded:
    from lambdas import trigger

    sink = Recorded()
    monkeypatch.setattr(trigger, "logger", sink)
    monkeypatch.setattr(trigger, "metrics", sink)
    return sink


def test_an_event_of_another_source_is_logged_with_what_it_was(sfn: tuple[Any, Stubber], recorded: Recorded) -> None:
    client, _ = sfn
    start_run(event("jobs/a/recipe.yaml", bucket="other-bkt", **{"detail-type": "Object Deleted"}), CONFIG, client)
    ((level, message, fields),) = recorded.lines
    assert level == "WARNING" and message.startswith("ignored: ")
    assert "not an S3 Object Created event of the data bucket" in message
    assert fields == {"source": "aws.s3", "detail_type": "Object Deleted", "bucket": "other-bkt"}
    assert recorded.metrics == []


def test_a_key_that_is_no_recipe_drop_is_logged_with_the_key(sfn: tuple[Any, Stubber], recorded: Recorded) -> None:
    client, _ = sfn
    start_run(event("jobs/a/train.jsonl"), CONFIG, client)
    ((level, message, fields),) = recorded.lines
    assert level == "WARNING" and message.startswith("ignored: ") and "jobs/<job>/recipe.yaml" in message
    assert fields == {"key": "jobs/a/train.jsonl"}


def test_a_started_run_is_counted_and_a_repeated_event_is_logged(sfn: tuple[Any, Stubber], recorded: Recorded) -> None:
    client, stubber = sfn
    stubber.add_response("start_execution", {"executionArn": "arn:x", "startDate": "2026-11-28T00:00:00Z"})
    stubber.add_client_error("start_execution", "ExecutionAlreadyExists", "exists")
    start_run(event("jobs/a/recipe.yaml"), CONFIG, client)
    assert recorded.metrics == [{"name": "RunsTriggered", "unit": "Count", "value": 1}]
    start_run(event("jobs/a/recipe.yaml"), CONFIG, client)
    assert recorded.metrics == [{"name": "RunsTriggered", "unit": "Count", "value": 1}]  # not counted twice
    ((level, message, fields),) = recorded.lines
    assert level == "INFO" and message.startswith("execution already exists")
    assert fields == {"execution": execution_name(DATA, "jobs/a/recipe.yaml", "v1")}
