"""PipelineStack template assertions, construct by construct (functions, state machine, trigger, monitoring).

The app is built the way app.py builds it (StorageStack + PipelineStack from one DeploymentConfig,
cdk.json's feature flags) and synthesised once per configuration. Lambda bundling is skipped
(context ``aws:cdk:bundling-stacks: []``): these tests read the template, not the code asset;
tests/infra/test_cdk_gates.py runs the real synth with bundling.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import botocore.session
import pytest
from aws_cdk.assertions import Match, Template
from pydantic import BaseModel

from lambdas import runtime
from novacpt.contract import Partition, PollInput
from novacpt.kernel.errors import PipelineError
from stacks.config import CONTEXT_KEY, ConfigError, DeploymentConfig
from stacks.pipeline.functions import LEASE_FUNCTIONS, METRICS_NAMESPACE, SPECS
from stacks.pipeline.payload import item_selector, payload
from stacks.pipeline.stack import (
    OUTPUT_CONSOLE_URL,
    OUTPUT_DASHBOARD_URL,
    OUTPUT_STATE_MACHINE,
    OUTPUT_TOPIC,
    PipelineStack,
)
from stacks.pipeline.state_machine import PARTITION_CONCURRENCY
from stacks.storage.stack import StorageStack
from tests.conftest import ROOT

CDK_JSON_CONTEXT: dict[str, Any] = json.loads((ROOT / "cdk.json").read_text())["context"]
NO_BUNDLING = {"aws:cdk:bundling-stacks": []}  # CDK skips the local bundler of every stack

# Non-default values, so the template shows the configured ones and not the defaults.
CONFIGURED = DeploymentConfig(
    log_retention_days=30,
    notification_email="ml-team@example.com",
    budget_instance_hours=500,
    price_per_instance_hour=98.32,
    max_poll_hours=48,
    poll_interval_seconds=600,
    validation_shard_gib=4,
    validation_concurrency=12,
    max_near_duplicate_rate=0.1,
    max_validation_overlap=0,
)
FUNCTIONS = tuple(SPECS)
DEPLOYMENT_ENV = ("ACCOUNT_ID", "REGION", "DATA_BUCKET", "OUTPUT_BUCKET", "ARCHIVE_BUCKET")
# Functions that read or write the buckets (and so know the deployment's account, region and buckets).
DEPLOYMENT_FUNCTIONS = {
    "ValidateRecipe",
    "PlanValidation",
    "ValidateShard",
    "CountDuplicates",
    "MergeReports",
    "ArchiveOutputs",
    "AcquireLease",  # dataset versions before taking the lease
    "SubmitJob",  # and again before the job starts
}
MAIN_TASKS = (
    "JoinQueue",
    "ValidateRecipe",
    "PlanValidation",
    "MergeReports",
    "Estimate",
    "Preflight",
    "AcquireLease",
    "PrepareCapacity",
    "SubmitJob",
    "PollJob",
    "ReleaseCapacity",
    "ArchiveOutputs",
    "NotifySuccess",
)
VALIDATE_DATASETS = ("PlanValidation", "ValidateShards", "CountDuplicates", "MergeReports")
CLEANUP_CHAIN = ("CancelJobOnFailure", "ReleaseCapacityOnFailure", "ArchiveOnFailure", "NotifyFailure", "RunFailed")
# Task state -> the function it invokes.
TASK_FUNCTIONS = {
    "JoinQueue": "JoinQueue",
    "AcquireLease": "AcquireLease",
    "ValidateRecipe": "ValidateRecipe",
    "PlanValidation": "PlanValidation",
    "ValidateShard": "ValidateShard",  # in the ValidateShards Distributed Map
    "CountPartition": "CountDuplicates",  # in the CountDuplicates Map
    "MergeReports": "MergeReports",
    "Estimate": "Estimate",
    "Preflight": "Preflight",
    "PrepareCapacity": "PrepareCapacity",
    "CheckCapacity": "PrepareCapacity",  # the same function, asked again while the instances start
    "SubmitJob": "SubmitJob",
    "PollJob": "PollJob",
    "ReleaseCapacity": "ReleaseCapacity",
    "ArchiveOutputs": "ArchiveOutputs",
    "NotifySuccess": "Notify",
    "CancelJobOnFailure": "CancelJob",
    "ReleaseCapacityOnFailure": "ReleaseCapacity",
    "ArchiveOnFailure": "ArchiveOutputs",
    "NotifyFailure": "Notify",
}
NEVER_RETRIED = {"RecipeInvalid", "DatasetInvalid", "BudgetExceeded", "JobFailed", "States.ALL"}


# --------------------------------------------------------------------------- fixtures


class Synth:
    """Storage and pipeline stacks of one configuration: the pipeline template and logical-id lookups."""

    def __init__(self, config: DeploymentConfig) -> None:
        self.config = config
        app = cdk.App(context={**CDK_JSON_CONTEXT, **NO_BUNDLING})
        self.storage = StorageStack(app, "TestStorage", config=config)
        self.stack = PipelineStack(
            app,
            "TestPipeline",
            config=config,
            access=self.storage.access,
            data_bucket=self.storage.data_bucket,
            output_bucket=self.storage.output_bucket,
            archive_bucket=self.storage.archive_bucket,
            lease=self.storage.lease,
        )
        self.template = Template.from_stack(self.stack)
        self.json: dict[str, Any] = dict(self.template.to_json())
        self.resources: dict[str, dict[str, Any]] = self.json["Resources"]
        # Each function is named by its POWERTOOLS_SERVICE_NAME.
        self.functions: dict[str, str] = {
            r["Properties"]["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"]: k
            for k, r in self.of_type("AWS::Lambda::Function").items()
        }

    def of_type(self, type_: str) -> dict[str, dict[str, Any]]:
        return {k: r for k, r in self.resources.items() if r["Type"] == type_}

    def only(self, type_: str) -> tuple[str, dict[str, Any]]:
        (item,) = self.of_type(type_).items()
        return item

    def function(self, name: str) -> dict[str, Any]:
        props: dict[str, Any] = self.resources[self.functions[name]]["Properties"]
        return props

    def env(self, name: str) -> dict[str, Any]:
        variables: dict[str, Any] = self.function(name)["Environment"]["Variables"]
        return variables

    def role_id(self, name: str) -> str:
        return str(self.function(name)["Role"]["Fn::GetAtt"][0])

    def storage_id(self, construct: Any) -> str:
        """Logical id of a StorageStack resource (what cross-stack references name)."""
        cfn = construct.node.default_child or construct
        return str(self.storage.resolve(self.storage.get_logical_id(cfn)))

    def machine(self, name: str = "Run") -> tuple[str, dict[str, Any]]:
        """The run state machine (or, with name="Release", the release workflow)."""
        (item,) = [(k, r) for k, r in self.of_type("AWS::StepFunctions::StateMachine").items() if k.startswith(name)]
        return item

    def policies_of_role(self, role_id: str) -> list[dict[str, Any]]:
        return [r for r in self.of_type("AWS::IAM::Policy").values() if {"Ref": role_id} in r["Properties"]["Roles"]]


@pytest.fixture(scope="module")
def synth() -> Synth:
    return Synth(CONFIGURED)


@pytest.fixture(scope="module")
def default_synth() -> Synth:
    """cdk.json's own configuration (no e-mail, no price, the default budget)."""
    return Synth(DeploymentConfig.from_context(CDK_JSON_CONTEXT.get))


def _refers_to(value: Any, logical_id: str) -> bool:
    """True when a CloudFormation value references `logical_id` (Ref, GetAtt or a cross-stack reference)."""
    return re.search(rf"\b\w*{re.escape(logical_id)}\w*\b", json.dumps(value)) is not None


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement.get("Action", [])
    return action if isinstance(action, list) else [action]


def _all_statements(synth: Synth) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(logical id, resource type, statement) of every policy document in the pipeline template."""
    documents = {
        "AWS::IAM::Policy": "PolicyDocument",
        "AWS::IAM::ManagedPolicy": "PolicyDocument",
        "AWS::SNS::TopicPolicy": "PolicyDocument",
        "AWS::SQS::QueuePolicy": "PolicyDocument",
        "AWS::KMS::Key": "KeyPolicy",
    }
    for logical_id, resource in synth.resources.items():
        props = resource.get("Properties", {})
        docs = []
        if resource["Type"] in documents:
            docs.append(props[documents[resource["Type"]]])
        if resource["Type"] == "AWS::IAM::Role":
            docs += [p["PolicyDocument"] for p in props.get("Policies", [])]
        for doc in docs:
            for statement in doc["Statement"]:
                yield logical_id, resource["Type"], statement


# --------------------------------------------------------------------------- functions


def test_every_function_has_its_own_role_and_log_group(synth: Synth) -> None:
    synth.template.resource_count_is("AWS::Lambda::Function", len(SPECS))
    assert set(synth.functions) == set(SPECS)
    assert set(SPECS) >= set(TASK_FUNCTIONS.values()) | {"Trigger"}
    roles = [synth.role_id(name) for name in FUNCTIONS]
    assert len(set(roles)) == len(roles), "a role is shared between functions"
    log_groups = [synth.function(name)["LoggingConfig"]["LogGroup"]["Ref"] for name in FUNCTIONS]
    assert len(set(log_groups)) == len(log_groups), "a log group is shared between functions"
    for name, role, log_group in zip(FUNCTIONS, roles, log_groups, strict=True):
        assert synth.resources[role]["Type"] == "AWS::IAM::Role"
        trust = synth.resources[role]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        assert trust == [
            {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}}
        ], name
        group = synth.resources[log_group]
        assert group["Type"] == "AWS::Logs::LogGroup"
        assert group["Properties"]["RetentionInDays"] == CONFIGURED.log_retention_days, name
    # One log group a function, plus the run state machine's and the release workflow's.
    synth.template.resource_count_is("AWS::Logs::LogGroup", len(SPECS) + 2)
    synth.template.resource_count_is("AWS::IAM::Role", len(SPECS) + 2)


def test_log_groups_are_encrypted_with_a_rotating_key_cloudwatch_logs_may_use(synth: Synth) -> None:
    keys = {
        g["Properties"].get("KmsKeyId", {}).get("Fn::GetAtt", [None])[0]
        for g in synth.of_type("AWS::Logs::LogGroup").values()
    }
    assert len(keys) == 1 and None not in keys, keys
    (key_id,) = keys
    key = synth.resources[key_id]["Properties"]
    assert key["EnableKeyRotation"] is True
    logs_statements = [s for s in key["KeyPolicy"]["Statement"] if "logs." in json.dumps(s.get("Principal", {}))]
    assert len(logs_statements) == 1
    statement = logs_statements[0]
    assert "kms:Decrypt" in statement["Action"] and "kms:GenerateDataKey" in statement["Action"]
    # Only for log groups of this account and region.
    assert "kms:EncryptionContext:aws:logs:arn" in statement["Condition"]["ArnLike"]
    assert ":log-group:*" in json.dumps(statement["Condition"]["ArnLike"])


def test_every_function_runs_python_3_14_traced_with_json_logs(synth: Synth) -> None:
    for name in SPECS:
        props = synth.function(name)
        assert props["Runtime"] == "python3.14", name
        assert props["TracingConfig"] == {"Mode": "Active"}, name
        assert props["LoggingConfig"]["LogFormat"] == "JSON", name
        assert props["Architectures"] == ["x86_64"], name
        # The handler the template names is a function of the shipped code (what Lambda imports and calls).
        module, _, attribute = props["Handler"].rpartition(".")
        assert module.startswith("lambdas."), (name, props["Handler"])
        assert callable(getattr(importlib.import_module(module), attribute)), (name, props["Handler"])


def _sizing(synth: Synth, name: str) -> tuple[int, int]:
    props = synth.function(name)
    return props["MemorySize"], props["Timeout"]


def test_memory_and_timeouts(synth: Synth) -> None:
    # Scanning a dataset shard and counting a hash partition: the most CPU and memory, the longest runs.
    assert _sizing(synth, "ValidateShard") == (4096, 900)
    assert _sizing(synth, "CountDuplicates") == (4096, 900)
    assert _sizing(synth, "ArchiveOutputs") == (1024, 900)
    for name in SPECS:
        memory, timeout = _sizing(synth, name)
        assert 128 <= memory <= 10240, name  # what Lambda accepts
        assert 1 <= timeout <= 900, name


def test_powertools_environment_of_every_function(synth: Synth) -> None:
    for name in FUNCTIONS:
        env = synth.env(name)
        assert env["POWERTOOLS_SERVICE_NAME"] == name
        assert env["POWERTOOLS_METRICS_NAMESPACE"] == METRICS_NAMESPACE
        assert env["POWERTOOLS_LOG_LEVEL"] == "INFO"


def test_only_the_s3_functions_know_the_deployment(synth: Synth) -> None:
    bucket_ids = {
        "DATA_BUCKET": synth.storage_id(synth.storage.data_bucket),
        "OUTPUT_BUCKET": synth.storage_id(synth.storage.output_bucket),
        "ARCHIVE_BUCKET": synth.storage_id(synth.storage.archive_bucket),
    }
    for name in FUNCTIONS:
        env = synth.env(name)
        if name in DEPLOYMENT_FUNCTIONS:
            assert env["ACCOUNT_ID"] == {"Ref": "AWS::AccountId"}
            assert env["REGION"] == {"Ref": "AWS::Region"}
            for key, bucket_id in bucket_ids.items():
                assert _refers_to(env[key], bucket_id), (name, key, env[key])
        else:
            assert not set(DEPLOYMENT_ENV) & set(env), name


def test_poll_settings_come_from_the_config(synth: Synth) -> None:
    env = synth.env("PollJob")
    assert int(env["POLL_INTERVAL_SECONDS"]) == CONFIGURED.poll_interval_seconds
    assert float(env["MAX_POLL_SECONDS"]) == CONFIGURED.max_poll_hours * 3600
    assert not {"CLUSTER_BACKEND", "FAKE_JOB_STATES", "FAKE_FAILURE_REASON"} & set(env)  # no fake in the runtime


def test_shard_size_comes_from_the_config(synth: Synth) -> None:
    assert int(synth.env("PlanValidation")["SHARD_BYTES"]) == CONFIGURED.validation_shard_gib << 30


def test_quality_bounds_reach_merge_reports_only_when_configured(synth: Synth, default_synth: Synth) -> None:
    env = synth.env("MergeReports")
    assert float(env["MAX_NEAR_DUPLICATE_RATE"]) == 0.1
    assert int(env["MAX_VALIDATION_OVERLAP"]) == 0
    assert "MAX_MOJIBAKE_RATE" not in env  # null in the config: a warning only
    assert not {"MAX_NEAR_DUPLICATE_RATE", "MAX_VALIDATION_OVERLAP"} & set(default_synth.env("MergeReports"))
    for name in FUNCTIONS:
        if name != "MergeReports":
            assert "MAX_NEAR_DUPLICATE_RATE" not in synth.env(name), name


def test_budget_and_price_reach_estimate_only_when_configured(synth: Synth, default_synth: Synth) -> None:
    env = synth.env("Estimate")
    assert float(env["BUDGET_INSTANCE_HOURS"]) == CONFIGURED.budget_instance_hours
    assert float(env["PRICE_PER_INSTANCE_HOUR"]) == CONFIGURED.price_per_instance_hour
    default_env = default_synth.env("Estimate")
    # The shipped cdk.json guards cost: a finite budget reaches the Estimate step.
    assert 0 < float(default_env["BUDGET_INSTANCE_HOURS"]) < float("inf")
    assert "PRICE_PER_INSTANCE_HOUR" not in default_env
    for name in FUNCTIONS:
        if name != "Estimate":
            assert "BUDGET_INSTANCE_HOURS" not in synth.env(name), name


def test_notify_and_trigger_environment(synth: Synth) -> None:
    topic_id, _ = synth.only("AWS::SNS::Topic")
    state_machine_id, _ = synth.machine()
    assert synth.env("Notify")["TOPIC_ARN"] == {"Ref": topic_id}
    assert synth.env("Trigger")["STATE_MACHINE_ARN"] == {"Ref": state_machine_id}
    assert _refers_to(synth.env("Trigger")["DROP_BUCKET"], synth.storage_id(synth.storage.data_bucket))


# --------------------------------------------------------------------------- least privilege


def test_each_role_attaches_exactly_its_bucket_access_policies(synth: Synth) -> None:
    access = synth.storage.access
    expected = {
        "ValidateRecipe": [access.read_data, access.write_archive, access.locate_buckets],
        "PlanValidation": [access.read_data],
        "ValidateShard": [access.read_data, access.write_archive],
        "CountDuplicates": [access.write_archive],  # reads and writes only runs/ in the archive
        "MergeReports": [access.write_archive],
        # ArchiveOutputs heads the datasets: are the versions that trained still the validated ones?
        "ArchiveOutputs": [access.read_outputs, access.write_archive, access.read_data],
        **{name: [synth.storage.lease.use] for name in LEASE_FUNCTIONS},
        "AcquireLease": [synth.storage.lease.use, access.read_data],
        "SubmitJob": [access.read_data],
    }
    all_policy_ids = {
        synth.storage_id(p)
        for p in (
            access.read_data,
            access.read_outputs,
            access.write_outputs,
            access.write_archive,
            access.locate_buckets,
            synth.storage.lease.use,
            synth.storage.lease.read,
        )
    }
    for name in FUNCTIONS:
        attached = synth.resources[synth.role_id(name)]["Properties"].get("ManagedPolicyArns", [])
        wanted = [synth.storage_id(p) for p in expected.get(name, [])]
        assert len(attached) == len(wanted), (name, attached)
        for arn, policy_id in zip(attached, wanted, strict=True):
            named = [pid for pid in all_policy_ids if _refers_to(arn, pid)]
            assert named == [policy_id], (name, arn)
    # Nothing AWS-managed (e.g. AWSLambdaBasicExecutionRole, whose log grants are account-wide).
    assert "arn:aws:iam::aws:policy" not in json.dumps(synth.json)
    synth.template.resource_count_is("AWS::IAM::ManagedPolicy", 0)


def test_no_identity_policy_grants_an_action_wildcard(synth: Synth) -> None:
    identity = ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::Role")
    statements = list(_all_statements(synth))
    assert statements
    for logical_id, type_, statement in statements:
        wildcards = [a for a in _actions(statement) if "*" in a]
        if not wildcards:
            continue
        assert type_ not in identity, (logical_id, statement)
        # Resource policies: only the TLS-only denials (sqs:*) and the KMS keys' account-root
        # administration statement (CDK's default key policy) name an action wildcard.
        if statement["Effect"] == "Deny":
            assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}, (logical_id, statement)
        else:
            assert type_ == "AWS::KMS::Key", (logical_id, statement)
            assert ":root" in json.dumps(statement["Principal"]), (logical_id, statement)


def _granted(synth: Synth, action: str) -> list[tuple[str, Any]]:
    """(role logical id, resource) of every identity statement that allows `action`."""
    found = []
    for policy in synth.of_type("AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement["Effect"] == "Allow" and action in _actions(statement):
                for role in policy["Properties"]["Roles"]:
                    found.append((role["Ref"], statement["Resource"]))
    return found


def test_only_notify_may_publish_and_only_to_the_topic(synth: Synth) -> None:
    topic_id, _ = synth.only("AWS::SNS::Topic")
    assert _granted(synth, "sns:Publish") == [(synth.role_id("Notify"), {"Ref": topic_id})]


def test_only_trigger_may_start_executions_of_the_state_machine(synth: Synth) -> None:
    """The trigger starts runs; the state machine itself starts only its Distributed Map's child executions;
    only ReleaseCapacity starts the release workflow."""
    state_machine_id, state_machine = synth.machine()
    release_id, _ = synth.machine("Release")
    own_role = state_machine["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    assert sorted(_granted(synth, "states:StartExecution")) == sorted(
        [
            (synth.role_id("Trigger"), {"Ref": state_machine_id}),
            (own_role, {"Ref": state_machine_id}),
            (synth.role_id("ReleaseCapacity"), {"Ref": release_id}),
        ]
    )
    assert synth.env("ReleaseCapacity")["RELEASE_STATE_MACHINE_ARN"] == {"Ref": release_id}


def test_acquire_lease_may_only_describe_runs(synth: Synth) -> None:
    """To drop a run that ended from the head of the queue; its own policy (no dependency cycle)."""
    run_role = synth.machine()[1]["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    ((role, resource),) = [g for g in _granted(synth, "states:DescribeExecution") if g[0] != run_role]
    assert role == synth.role_id("AcquireLease")
    assert ":execution:" in json.dumps(resource)


def test_state_machine_invokes_only_the_pipeline_functions_it_runs(synth: Synth) -> None:
    _, state_machine = synth.machine()
    role_id = state_machine["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    invoked = [resource for role, resource in _granted(synth, "lambda:InvokeFunction") if role == role_id]
    assert len(invoked) == 1
    resources = json.dumps(invoked[0])
    for name in FUNCTIONS:
        assert (synth.functions[name] in resources) == (name not in {"Trigger", "ScaleDown"}), name
    _, release = synth.machine("Release")
    release_role = release["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    (scale_down,) = [resource for role, resource in _granted(synth, "lambda:InvokeFunction") if role == release_role]
    assert synth.functions["ScaleDown"] in json.dumps(scale_down)
    for name in FUNCTIONS:
        assert (synth.functions[name] in json.dumps(scale_down)) == (name == "ScaleDown"), name
    granted_roles = {role for role, _ in _granted(synth, "lambda:InvokeFunction")}
    assert granted_roles == {role_id, release_role}


def test_functions_without_aws_calls_have_only_logs_and_xray(synth: Synth) -> None:
    for name in ("Estimate", "JoinQueue", "PrepareCapacity", "ScaleDown", "PollJob", "CancelJob"):
        actions = {
            a
            for policy in synth.policies_of_role(synth.role_id(name))
            for s in policy["Properties"]["PolicyDocument"]["Statement"]
            for a in _actions(s)
        }
        assert actions == {
            "xray:PutTelemetryRecords",
            "xray:PutTraceSegments",
            "logs:CreateLogStream",
            "logs:PutLogEvents",
        }, name


# --------------------------------------------------------------------------- state machine


def _definition(state_machine: dict[str, Any]) -> dict[str, Any]:
    """The state machine's ASL with every CloudFormation token replaced by ``<logical id>``."""
    definition = state_machine["Properties"]["DefinitionString"]
    if isinstance(definition, str):
        parsed: dict[str, Any] = json.loads(definition)
        return parsed
    delimiter, parts = definition["Fn::Join"]
    assert delimiter == ""
    text = ""
    for part in parts:
        if isinstance(part, str):
            text += part
        elif "Fn::GetAtt" in part:
            text += f"<{part['Fn::GetAtt'][0]}>"
        elif "Ref" in part:
            text += f"<{part['Ref']}>"
        else:
            text += f"<{json.dumps(part, sort_keys=True).replace(chr(34), '')}>"
    parsed = json.loads(text)
    return parsed


@pytest.fixture(scope="module")
def asl(synth: Synth) -> dict[str, Any]:
    _, state_machine = synth.machine()
    return _definition(state_machine)


def _tasks(states: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every Task state, including those inside Map item processors."""
    for name, state in states.items():
        if state["Type"] == "Task":
            yield name, state
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if processor:
            yield from _tasks(processor["States"])


@pytest.mark.parametrize("machine", ["Run", "Release"])
def test_every_task_payload_is_the_input_its_function_parses(synth: Synth, machine: str) -> None:
    """Each payload's keys are the fields of the handler's input model (novacpt.contract): none missing, none extra."""
    handlers = {k: r["Properties"]["Handler"] for k, r in synth.of_type("AWS::Lambda::Function").items()}
    _, state_machine = synth.machine(machine)
    checked = 0
    for name, task in _tasks(_definition(state_machine)["States"]):
        if "Parameters" not in task:
            continue  # a map item, passed on as it is
        handler = handlers[task["Resource"].strip("<>")]  # the function itself: its result is the state's
        importlib.import_module(handler.rpartition(".")[0])
        model = runtime.INPUT_MODELS[handler]
        keys = {key.removesuffix(".$") for key in task["Parameters"]}
        required = {n for n, info in model.model_fields.items() if info.is_required()}
        assert required <= keys <= set(model.model_fields), (name, model.__name__, keys)
        checked += 1
    assert checked >= (14 if machine == "Run" else 1)


def test_a_payload_takes_only_the_input_models_fields() -> None:
    """A misspelt or unknown name stops synthesis instead of reaching a function that would ignore it."""
    with pytest.raises(KeyError, match="PollInput has no field attempts"):
        payload(PollInput, attempts=0)

    class Odd(BaseModel):
        nowhere: str

    with pytest.raises(KeyError, match=r"Odd\.nowhere: not in the run state or the context object"):
        payload(Odd)
    with pytest.raises(KeyError, match="RunState has no field 'nowhere'"):
        item_selector(Odd, Partition)


def test_state_machine_has_the_run_states(asl: dict[str, Any]) -> None:
    assert asl["StartAt"] == "JoinQueue"
    assert set(asl["States"]) == {
        "JoinQueue",
        "ValidateRecipe",
        *VALIDATE_DATASETS,
        "Estimate",
        "Preflight",
        "AcquireLease",
        "LeaseAcquired",
        "WaitInLine",
        "PrepareCapacity",
        "CapacityReady",
        "WaitForCapacity",
        "CheckCapacity",
        "SubmitJob",
        "StartPolling",
        "PollJob",
        "JobFinished",
        "WaitForJob",
        "JobTimedOut",
        "ReleaseCapacity",
        "ArchiveOutputs",
        "NotifySuccess",
        "RunSucceeded",
        *CLEANUP_CHAIN,
    }
    types = {name: state["Type"] for name, state in asl["States"].items()}
    assert types["ValidateShards"] == types["CountDuplicates"] == "Map"
    assert types["PlanValidation"] == types["MergeReports"] == "Task"
    assert types["JobFinished"] == "Choice"
    assert types["WaitForJob"] == "Wait"
    assert types["StartPolling"] == types["JobTimedOut"] == "Pass"
    assert types["RunSucceeded"] == "Succeed"
    assert types["RunFailed"] == "Fail"


def test_main_path_order(asl: dict[str, Any]) -> None:
    states = asl["States"]
    path = ["JoinQueue"]
    while "Next" in states[path[-1]]:
        path.append(states[path[-1]]["Next"])
    assert path == [
        "JoinQueue",
        "ValidateRecipe",
        *VALIDATE_DATASETS,
        "Estimate",
        "Preflight",
        "AcquireLease",
        "LeaseAcquired",
    ]
    # In line until this run owns the cluster's lease; only then is any capacity asked for.
    acquired = states["LeaseAcquired"]
    assert acquired["Choices"] == [{"Variable": "$.lease.acquired", "BooleanEquals": True, "Next": "PrepareCapacity"}]
    assert acquired["Default"] == "WaitInLine"
    # In line, the run waits as long as AcquireLease said (read from its result, not a fixed figure).
    in_line = states["WaitInLine"]
    assert (in_line["Type"], in_line["Next"]) == ("Wait", "AcquireLease") and "Seconds" not in in_line
    assert in_line["SecondsPath"].startswith(f"{states['AcquireLease']['ResultPath']}.")
    assert states["PrepareCapacity"]["Next"] == "CapacityReady"
    ready = states["CapacityReady"]
    assert ready["Type"] == "Choice"
    assert {c["Next"] for c in ready["Choices"]} | {ready.get("Default")} >= {"SubmitJob", "WaitForCapacity"}
    path = ["SubmitJob"]
    while "Next" in states[path[-1]]:
        path.append(states[path[-1]]["Next"])
    assert path == ["SubmitJob", "StartPolling", "PollJob", "JobFinished"]
    assert states["WaitForCapacity"]["Next"] == "CheckCapacity"
    assert states["CheckCapacity"]["Next"] == "CapacityReady"
    assert states["StartPolling"]["Result"] == {"attempt": 0}
    assert states["StartPolling"]["ResultPath"] == "$.poll"
    # Between polls the run waits as long as PollJob said (read from the run state, not a fixed figure).
    wait = states["WaitForJob"]
    assert (wait["Type"], wait["Next"]) == ("Wait", "PollJob") and "Seconds" not in wait
    assert wait["SecondsPath"].startswith(f"{states['PollJob']['ResultPath']}.")
    choice = states["JobFinished"]
    assert choice["Default"] == "WaitForJob"
    assert {c["Next"] for c in choice["Choices"]} == {"ReleaseCapacity", "JobTimedOut"}
    succeeded = next(c for c in choice["Choices"] if c["Next"] == "ReleaseCapacity")
    assert succeeded == {"Variable": "$.poll.state", "StringEquals": "SUCCEEDED", "Next": "ReleaseCapacity"}
    timed_out = next(c for c in choice["Choices"] if c["Next"] == "JobTimedOut")
    assert timed_out == {"Variable": "$.poll.timed_out", "BooleanEquals": True, "Next": "JobTimedOut"}
    assert states["JobTimedOut"]["Next"] == "CancelJobOnFailure"
    assert states["JobTimedOut"]["ResultPath"] == "$.error"
    assert states["JobTimedOut"]["Result"]["Error"] == "JobTimedOut"
    assert f"({CONFIGURED.max_poll_hours:g} h)" in states["JobTimedOut"]["Result"]["Cause"]
    assert states["ReleaseCapacity"]["Next"] == "ArchiveOutputs"
    assert states["ArchiveOutputs"]["Next"] == "NotifySuccess"
    assert states["NotifySuccess"]["Next"] == "RunSucceeded"


def test_dataset_shards_are_validated_in_parallel_up_to_the_configured_concurrency(asl: dict[str, Any]) -> None:
    states = asl["States"]
    assert states["PlanValidation"]["ResultPath"] == "$.plan"
    shards = states["ValidateShards"]
    assert shards["MaxConcurrency"] == CONFIGURED.validation_concurrency
    assert shards["ItemsPath"] == "$.plan.shards"
    assert shards["ResultPath"] == "$.shards"
    assert shards["ItemProcessor"]["ProcessorConfig"]["Mode"] == "DISTRIBUTED"
    assert shards["ItemProcessor"]["StartAt"] == "ValidateShard"
    assert list(shards["ItemProcessor"]["States"]) == ["ValidateShard"]
    duplicates = states["CountDuplicates"]
    assert duplicates["MaxConcurrency"] == PARTITION_CONCURRENCY
    assert duplicates["ItemsPath"] == "$.plan.partitions"
    assert duplicates["ResultPath"] == "$.duplicates"
    assert duplicates["ItemProcessor"]["ProcessorConfig"]["Mode"] == "INLINE"
    assert list(duplicates["ItemProcessor"]["States"]) == ["CountPartition"]
    # The merged dataset summaries are what Estimate reads.
    assert states["MergeReports"]["ResultPath"] == "$.datasets"
    assert states["Estimate"]["Parameters"] == {"recipe.$": "$.recipe", "datasets.$": "$.datasets"}


def test_every_main_path_step_is_caught_into_the_cleanup(asl: dict[str, Any]) -> None:
    for name in (*MAIN_TASKS, "ValidateShards", "CountDuplicates"):
        catches = asl["States"][name].get("Catch", [])
        assert catches == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "CancelJobOnFailure"}], name


def test_cleanup_chain_continues_even_when_a_step_fails(asl: dict[str, Any]) -> None:
    states = asl["States"]
    for step, following in pairwise(CLEANUP_CHAIN):
        assert states[step]["Type"] == "Task", step
        assert states[step]["Next"] == following, step
        assert states[step]["Catch"] == [
            {"ErrorEquals": ["States.ALL"], "ResultPath": "$.cleanup_error", "Next": following}
        ], step
    assert states["RunFailed"] == {"Type": "Fail", "ErrorPath": "$.error.Error", "CausePath": "$.error.Cause"}


def test_every_task_retries_transient_errors_only(asl: dict[str, Any]) -> None:
    tasks = dict(_tasks(asl["States"]))
    assert set(tasks) == set(TASK_FUNCTIONS)
    for name, task in tasks.items():
        retries = task.get("Retry", [])
        transient = [r for r in retries if "TransientError" in r["ErrorEquals"]]
        assert len(transient) == 1, name
        assert transient[0]["JitterStrategy"] == "FULL", name
        assert transient[0]["BackoffRate"] == 2, name
        assert transient[0]["MaxAttempts"] >= 2, name
        for retry in retries:
            assert not NEVER_RETRIED & set(retry["ErrorEquals"]), (name, retry)


def _subclasses(cls: type) -> set[type]:
    return {cls} | {sub for direct in cls.__subclasses__() for sub in _subclasses(direct)}


def _error_names_step_functions_can_see() -> set[str]:
    """AWS's names (the Invoke API's errors, from botocore's model, and the SDK's) and the handlers' errors."""
    invoke = botocore.session.get_session().get_service_model("lambda").operation_model("Invoke")
    lambda_errors = {shape.name for shape in invoke.error_shapes}
    lambda_errors |= {"AWSLambdaException", "SdkClientException", "ClientExecutionTimeoutException", "Unknown"}
    handler_errors = {cls.__name__ for cls in _subclasses(PipelineError)}
    return {f"Lambda.{name}" for name in lambda_errors} | handler_errors


def _all_states(states: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, state in states.items():
        yield name, state
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if processor:
            yield from _all_states(processor["States"])


def test_every_retried_or_caught_error_is_one_a_task_can_raise(synth: Synth, asl: dict[str, Any]) -> None:
    """A misspelt error name in a Retry or Catch matches nothing: the run fails where it should have retried."""
    known = _error_names_step_functions_can_see()
    machines = synth.of_type("AWS::StepFunctions::StateMachine")
    assert len(machines) >= 1
    for machine_id, machine in machines.items():
        for name, state in _all_states(_definition(machine)["States"]):
            for rule in [*state.get("Retry", []), *state.get("Catch", [])]:
                for error in rule["ErrorEquals"]:
                    assert error.startswith("States.") or error in known, (machine_id, name, error)
    tasks = dict(_tasks(asl["States"]))
    for name, task in tasks.items():  # Lambda's own throttling and service errors never fail a run
        retried = {e for r in task.get("Retry", []) for e in r["ErrorEquals"]}
        assert {"Lambda.ServiceException", "Lambda.TooManyRequestsException"} <= retried, name


def test_each_task_invokes_its_function(synth: Synth, asl: dict[str, Any]) -> None:
    for name, task in _tasks(asl["States"]):
        function_id = synth.functions[TASK_FUNCTIONS[name]]
        resource = task["Resource"]
        # Either the optimised integration (the function ARN) or arn:...:states:::lambda:invoke.
        target = resource if resource.startswith("<") else json.dumps(task.get("Parameters", {}))
        assert function_id in target, (name, resource)


def test_state_machine_times_out_traces_and_logs_everything(synth: Synth, asl: dict[str, Any]) -> None:
    _, state_machine = synth.machine()
    props = state_machine["Properties"]
    assert asl["TimeoutSeconds"] > CONFIGURED.max_poll_hours * 3600
    assert props["TracingConfiguration"] == {"Enabled": True}
    logging = props["LoggingConfiguration"]
    assert logging["Level"] == "ALL"
    (destination,) = logging["Destinations"]
    log_group_id = destination["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"][0]
    group = synth.resources[log_group_id]["Properties"]
    assert group["RetentionInDays"] == CONFIGURED.log_retention_days
    assert "KmsKeyId" in group


# --------------------------------------------------------------------------- trigger


def test_recipe_drop_rule_matches_recipes_in_the_data_bucket(synth: Synth) -> None:
    _, rule = synth.only("AWS::Events::Rule")
    pattern = rule["Properties"]["EventPattern"]
    assert pattern["source"] == ["aws.s3"]
    assert pattern["detail-type"] == ["Object Created"]
    (bucket,) = pattern["detail"]["bucket"]["name"]
    assert _refers_to(bucket, synth.storage_id(synth.storage.data_bucket))
    assert pattern["detail"]["object"]["key"] == [{"wildcard": "jobs/*/recipe.yaml"}]
    assert rule["Properties"].get("State", "ENABLED") == "ENABLED"


def test_rule_target_retries_and_keeps_failures_in_an_encrypted_tls_only_queue(synth: Synth) -> None:
    rule_id, rule = synth.only("AWS::Events::Rule")
    queue_id, queue = synth.only("AWS::SQS::Queue")
    (target,) = rule["Properties"]["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [synth.functions["Trigger"], "Arn"]}
    assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0
    assert target["RetryPolicy"]["MaximumEventAgeInSeconds"] > 0
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [queue_id, "Arn"]}}
    assert queue["Properties"]["SqsManagedSseEnabled"] is True
    _, queue_policy = synth.only("AWS::SQS::QueuePolicy")
    statements = queue_policy["Properties"]["PolicyDocument"]["Statement"]
    assert {
        "Action": "sqs:*",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Resource": {"Fn::GetAtt": [queue_id, "Arn"]},
    } in statements
    allow = [s for s in statements if s["Effect"] == "Allow"]
    assert len(allow) == 1
    assert allow[0]["Principal"] == {"Service": "events.amazonaws.com"}
    assert allow[0]["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [rule_id, "Arn"]}}}
    # Only this rule may invoke the trigger function.
    synth.template.has_resource_properties(
        "AWS::Lambda::Permission",
        {
            "Action": "lambda:InvokeFunction",
            "FunctionName": {"Fn::GetAtt": [synth.functions["Trigger"], "Arn"]},
            "Principal": "events.amazonaws.com",
            "SourceArn": {"Fn::GetAtt": [rule_id, "Arn"]},
        },
    )
    synth.template.resource_count_is("AWS::Lambda::Permission", 1)


def test_trigger_function_keeps_failed_invocations_in_the_dead_letter_queue(synth: Synth) -> None:
    """EventBridge invokes asynchronously: invocations that fail after Lambda's retries go to the queue."""
    queue_id, _ = synth.only("AWS::SQS::Queue")
    assert synth.function("Trigger")["DeadLetterConfig"] == {"TargetArn": {"Fn::GetAtt": [queue_id, "Arn"]}}
    assert _granted(synth, "sqs:SendMessage") == [(synth.role_id("Trigger"), {"Fn::GetAtt": [queue_id, "Arn"]})]
    for name in FUNCTIONS:
        if name != "Trigger":
            assert "DeadLetterConfig" not in synth.function(name), name


# --------------------------------------------------------------------------- monitoring


def test_topic_is_encrypted_with_a_rotating_key_and_tls_only(synth: Synth) -> None:
    topic_id, topic = synth.only("AWS::SNS::Topic")
    key_id = topic["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0]
    key = synth.resources[key_id]
    assert key["Type"] == "AWS::KMS::Key"
    assert key["Properties"]["EnableKeyRotation"] is True
    cloudwatch = [
        s
        for s in key["Properties"]["KeyPolicy"]["Statement"]
        if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}
    ]
    assert len(cloudwatch) == 1  # alarms publish to the encrypted topic
    assert set(cloudwatch[0]["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey"}
    # Only alarms of this account and region may use it (confused deputy).
    condition = cloudwatch[0]["Condition"]
    assert condition["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert json.dumps(condition["ArnLike"]["aws:SourceArn"]).count(":alarm:*") == 1
    _, policy = synth.only("AWS::SNS::TopicPolicy")
    assert policy["Properties"]["Topics"] == [{"Ref": topic_id}]
    assert policy["Properties"]["PolicyDocument"]["Statement"] == [
        {
            "Action": "sns:Publish",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            "Effect": "Deny",
            "Principal": "*",
            "Resource": {"Ref": topic_id},
            "Sid": "AllowPublishThroughSSLOnly",
        }
    ]


def test_email_subscription_only_when_configured(synth: Synth, default_synth: Synth) -> None:
    topic_id, _ = synth.only("AWS::SNS::Topic")
    synth.template.resource_count_is("AWS::SNS::Subscription", 1)
    synth.template.has_resource_properties(
        "AWS::SNS::Subscription",
        {"Protocol": "email", "Endpoint": CONFIGURED.notification_email, "TopicArn": {"Ref": topic_id}},
    )
    default_synth.template.resource_count_is("AWS::SNS::Subscription", 0)


def test_alarms_on_executions_and_on_every_function_notify_the_topic(synth: Synth) -> None:
    topic_id, _ = synth.only("AWS::SNS::Topic")
    state_machine_id, _ = synth.machine()
    alarms = list(synth.of_type("AWS::CloudWatch::Alarm").values())
    assert len(alarms) == 3 + 1 + len(SPECS)  # executions, the release workflow giving up, every function
    execution_metrics = set()
    function_alarms = set()
    release_id, _ = synth.machine("Release")
    (release_alarm,) = [a["Properties"] for a in alarms if "Metrics" in a["Properties"]]
    assert release_alarm["AlarmActions"] == [{"Ref": topic_id}]
    # Any end of a release workflow but success: the group may still hold instances.
    released = {
        m["MetricStat"]["Metric"]["MetricName"]
        for m in release_alarm["Metrics"]
        if "MetricStat" in m
        and m["MetricStat"]["Metric"]["Dimensions"] == [{"Name": "StateMachineArn", "Value": {"Ref": release_id}}]
    }
    assert released == {"ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted"}
    (expression,) = [m["Expression"] for m in release_alarm["Metrics"] if "Expression" in m]
    assert sorted(expression.split(" + ")) == sorted(m["Id"] for m in release_alarm["Metrics"] if "MetricStat" in m)
    for alarm in alarms:
        props = alarm["Properties"]
        if props is release_alarm:
            continue
        assert props["AlarmActions"] == [{"Ref": topic_id}], props
        assert props["Threshold"] == 1
        assert props["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert props["EvaluationPeriods"] == 1
        assert props["TreatMissingData"] == "notBreaching"
        assert props["AlarmDescription"]
        (dimension,) = props["Dimensions"]
        if props["Namespace"] == "AWS/States":
            assert dimension == {"Name": "StateMachineArn", "Value": {"Ref": state_machine_id}}
            execution_metrics.add(props["MetricName"])
        else:
            assert (props["Namespace"], props["MetricName"], dimension["Name"]) == (
                "AWS/Lambda",
                "Errors",
                "FunctionName",
            )
            function_alarms.add(dimension["Value"]["Ref"])
    assert execution_metrics == {"ExecutionsFailed", "ExecutionsTimedOut", "ExecutionThrottled"}
    assert function_alarms == set(synth.functions.values())


def test_dashboard(synth: Synth) -> None:
    synth.template.resource_count_is("AWS::CloudWatch::Dashboard", 1)
    _, dashboard = synth.only("AWS::CloudWatch::Dashboard")
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for title in ("Runs", "Function errors", "Function duration (p99)", "Alarms"):
        assert title in body


# --------------------------------------------------------------------------- outputs and config


def test_outputs_name_the_state_machine_and_the_topic(synth: Synth) -> None:
    topic_id, _ = synth.only("AWS::SNS::Topic")
    state_machine_id, _ = synth.machine()
    outputs = synth.json["Outputs"]
    assert outputs[OUTPUT_STATE_MACHINE]["Value"] == {"Ref": state_machine_id}
    assert outputs[OUTPUT_TOPIC]["Value"] == {"Ref": topic_id}
    synth.template.has_output(OUTPUT_STATE_MACHINE, {"Description": Match.any_value()})


def _rendered(value: Any, region: str = "us-east-1") -> str:
    """An output's Fn::Join as the text CloudFormation makes of it (a Ref to a resource: <its logical id>)."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(_rendered(p, region) for p in parts)
    return region if value == {"Ref": "AWS::Region"} else f"<{value['Ref']}>"


def test_outputs_link_the_dashboard_and_the_state_machine_console(synth: Synth) -> None:
    dashboard_id, _ = synth.only("AWS::CloudWatch::Dashboard")
    state_machine_id, _ = synth.machine()
    for output_id in (OUTPUT_DASHBOARD_URL, OUTPUT_CONSOLE_URL):
        synth.template.has_output(output_id, {"Description": Match.any_value()})
    outputs = synth.json["Outputs"]
    assert _rendered(outputs[OUTPUT_DASHBOARD_URL]["Value"]) == (
        f"https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#dashboards:name=<{dashboard_id}>"
    )
    assert _rendered(outputs[OUTPUT_CONSOLE_URL]["Value"]) == (
        "https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1"
        f"#/statemachines/view/<{state_machine_id}>"
    )


def test_pipeline_stack_holds_no_data(synth: Synth) -> None:
    types = {r["Type"] for r in synth.resources.values()}
    assert "AWS::S3::Bucket" not in types
    assert not any(t.startswith(("AWS::DynamoDB", "AWS::RDS", "Custom::")) for t in types), types


BAD_PRICES = [0, -1.5, "cheap", True]


@pytest.mark.parametrize("price", BAD_PRICES)
def test_bad_price_per_instance_hour_fails_synth_with_one_line(price: Any) -> None:
    from app import build_app

    app = cdk.App(context={**CDK_JSON_CONTEXT, **NO_BUNDLING, CONTEXT_KEY: {"price_per_instance_hour": price}})
    with pytest.raises(ConfigError) as info:
        build_app(app)
    message = str(info.value)
    assert "\n" not in message
    assert message == (
        f"invalid CDK context 'nova-cpt.price_per_instance_hour': got {json.dumps(price)}; "
        "allowed: a number > 0 (USD per ml.p5.48xlarge instance-hour, for estimates), or null"
    )
    assert app.node.try_find_child("NovaCptPipeline") is None


def test_app_exits_1_on_bad_price(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CDK_"))}
    env |= {
        "CDK_CONTEXT_JSON": json.dumps({f"{CONTEXT_KEY}:price_per_instance_hour": "-3"}),
        "CDK_OUTDIR": str(tmp_path / "cdk.out"),
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    result = subprocess.run(
        [sys.executable, "app.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 1, result.stderr
    assert result.stderr == (
        "invalid CDK context 'nova-cpt:price_per_instance_hour': got \"-3\"; allowed: a number > 0 "
        "(USD per ml.p5.48xlarge instance-hour, for estimates), or null\n"
    )
    assert not list((tmp_path / "cdk.out").glob("*.template.json"))


def test_cluster_settings_are_outputs_the_cli_reads(default_synth: Synth) -> None:
    from novacpt_cli.cluster import CLUSTER_MODEL_OUTPUT, MAX_REPLICAS_OUTPUT

    outputs = default_synth.json["Outputs"]
    assert outputs[CLUSTER_MODEL_OUTPUT]["Value"] == default_synth.config.model
    assert outputs[MAX_REPLICAS_OUTPUT]["Value"] == str(default_synth.config.max_replicas)
