"""StorageStack template assertions and DeploymentConfig validation (incl. app.py's exit on bad context)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Match, Template
from pydantic import ValidationError

from app import build_app
from stacks.config import (
    CONTEXT_KEY,
    DEFAULT_BUDGET_INSTANCE_HOURS,
    ClusterConfig,
    ConfigError,
    DeploymentConfig,
    PipelineConfig,
    StorageConfig,
)
from stacks.storage.buckets import ACCESS_LOG_PREFIXES, LOGS_USE_BUCKET_POLICY_FLAG
from stacks.storage.stack import StorageStack
from tests.conftest import ROOT
from tests.permissions import iam_allows

# Non-default values, so the template shows the configured days and not the defaults.
ARCHIVE_DAYS = 120
NONCURRENT_DAYS = 45
KMS_BUCKETS = ("data", "output", "archive")
CDK_JSON_CONTEXT: dict[str, Any] = json.loads((ROOT / "cdk.json").read_text())["context"]
ALL_BUCKETS = (*KMS_BUCKETS, "access_log")


# --------------------------------------------------------------------------- fixtures


class Synth:
    """A synthesised StorageStack: its template and the logical ids of its resources."""

    def __init__(self, config: DeploymentConfig) -> None:
        app = cdk.App(context=CDK_JSON_CONTEXT)  # the feature flags the real app runs with
        self.stack = StorageStack(app, "TestStorage", config=config)
        self.template = Template.from_stack(self.stack)
        self.json: dict[str, Any] = dict(self.template.to_json())
        self.ids = {name: self.logical_id(getattr(self.stack, f"{name}_bucket")) for name in ALL_BUCKETS}
        self.key_id = self.logical_id(self.stack.key)

    def logical_id(self, construct: Any) -> str:
        cfn = construct.node.default_child
        return str(self.stack.resolve(self.stack.get_logical_id(cfn)))

    def resource(self, logical_id: str) -> dict[str, Any]:
        res: dict[str, Any] = self.json["Resources"][logical_id]
        return res

    def bucket(self, name: str) -> dict[str, Any]:
        return self.resource(self.ids[name])

    def bucket_policy(self, name: str) -> dict[str, Any]:
        policies: list[dict[str, Any]] = [
            r
            for r in self.json["Resources"].values()
            if r["Type"] == "AWS::S3::BucketPolicy" and r["Properties"]["Bucket"] == {"Ref": self.ids[name]}
        ]
        assert len(policies) == 1, f"{name} bucket should have exactly one bucket policy"
        return policies[0]


@pytest.fixture(scope="module")
def synth() -> Synth:
    return Synth(DeploymentConfig(archive_transition_days=ARCHIVE_DAYS, noncurrent_version_days=NONCURRENT_DAYS))


@pytest.fixture(scope="module")
def default_synth() -> Synth:
    return Synth(DeploymentConfig())


# --------------------------------------------------------------------------- resources


def test_one_key_four_buckets_the_lease_table_and_nothing_else(synth: Synth) -> None:
    synth.template.resource_count_is("AWS::KMS::Key", 1)
    synth.template.resource_count_is("AWS::DynamoDB::Table", 1)
    synth.template.resource_count_is("AWS::S3::Bucket", 4)
    synth.template.resource_count_is("AWS::S3::BucketPolicy", 4)
    synth.template.resource_count_is("AWS::IAM::ManagedPolicy", 7)  # 5 for the buckets, 2 for the lease table
    types = {r["Type"] for r in synth.json["Resources"].values()}
    # No Lambda-backed custom resources (auto-delete, bucket notifications), no roles: only the
    # managed access policies that the stateless stacks attach.
    assert types <= {
        "AWS::KMS::Key",
        "AWS::S3::Bucket",
        "AWS::S3::BucketPolicy",
        "AWS::IAM::ManagedPolicy",
        "AWS::DynamoDB::Table",
        "AWS::CDK::Metadata",
    }


def _policy_statements(synth: Synth, id_prefix: str) -> list[dict[str, object]]:
    (policy,) = [r for k, r in synth.json["Resources"].items() if k.startswith(id_prefix)]
    statements: list[dict[str, object]] = policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def _arns(synth: Synth, value: Any) -> Any:
    """A policy with each bucket's Fn::GetAtt Arn replaced by the ARN of a bucket named after its role."""
    names = {logical_id: name for name, logical_id in synth.ids.items()}
    if isinstance(value, list):
        return [_arns(synth, v) for v in value]
    if isinstance(value, dict) and set(value) == {"Fn::GetAtt"} and value["Fn::GetAtt"][0] in names:
        return f"arn:aws:s3:::{names[value['Fn::GetAtt'][0]]}"
    if isinstance(value, dict) and set(value) == {"Fn::Join"}:
        delimiter, items = value["Fn::Join"]
        return delimiter.join(str(_arns(synth, i)) for i in items)
    if isinstance(value, dict):
        return {k: _arns(synth, v) for k, v in value.items()}
    return value


def test_access_policies_grant_each_reader_and_writer_only_its_bucket(synth: Synth) -> None:
    """What each managed policy lets a role do, evaluated as IAM does: only its bucket, only its verbs."""
    read_data = _arns(synth, _policy_statements(synth, "BucketAccessReadData"))
    assert iam_allows(read_data, "s3:GetObjectVersion", "arn:aws:s3:::data/jobs/a/train.jsonl")  # pinned reads
    assert iam_allows(read_data, "s3:GetObject", "arn:aws:s3:::data/jobs/a/recipe.yaml")
    assert iam_allows(read_data, "s3:ListBucket", "arn:aws:s3:::data")
    for action, resource in [
        ("s3:PutObject", "arn:aws:s3:::data/jobs/a/train.jsonl"),  # read only
        ("s3:DeleteObject", "arn:aws:s3:::data/jobs/a/train.jsonl"),
        ("s3:GetObject", "arn:aws:s3:::archive/runs/r/run.json"),  # no other bucket
        ("s3:GetObject", "arn:aws:s3:::output/a/manifest.json"),
    ]:
        assert not iam_allows(read_data, action, resource), (action, resource)
    archive = _arns(synth, _policy_statements(synth, "BucketAccessWriteArchive"))
    assert iam_allows(archive, "s3:PutObject", "arn:aws:s3:::archive/runs/r/run.json")
    assert iam_allows(archive, "s3:GetObject", "arn:aws:s3:::archive/runs/r/run.json")
    for action, resource in [
        ("s3:PutObject", "arn:aws:s3:::archive/elsewhere/x"),  # only under runs/
        ("s3:DeleteObject", "arn:aws:s3:::archive/runs/r/run.json"),  # the archive is never deleted from
        ("s3:PutObject", "arn:aws:s3:::data/jobs/a/train.jsonl"),
    ]:
        assert not iam_allows(archive, action, resource), (action, resource)


def test_access_policies_name_single_actions(synth: Synth) -> None:
    for prefix in (
        "BucketAccessReadData",
        "BucketAccessReadOutputs",
        "BucketAccessWriteOutputs",
        "BucketAccessWriteArchive",
        "BucketAccessLocateBuckets",
    ):
        for statement in _policy_statements(synth, prefix):
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert all("*" not in a for a in actions), (prefix, statement)
            assert statement["Effect"] == "Allow"


def test_logical_ids_of_stateful_resources_never_change(synth: Synth) -> None:
    """A changed construct id means a new bucket/key (the old one is orphaned by RETAIN)."""
    assert synth.key_id == "DatasetStorageKey0FDB81A4"
    assert synth.ids == {
        "data": "DatasetStorageDataBucketC3882D93",
        "output": "DatasetStorageOutputBucket582DB00B",
        "archive": "DatasetStorageArchiveBucketE681CEC4",
        "access_log": "DatasetStorageAccessLogBucket7E325854",
    }


def test_key_rotates_and_is_retained(synth: Synth) -> None:
    key = synth.resource(synth.key_id)
    assert key["Type"] == "AWS::KMS::Key"
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == "Retain"
    assert key["UpdateReplacePolicy"] == "Retain"


def test_no_hard_coded_names(synth: Synth) -> None:
    for name in ALL_BUCKETS:
        assert "BucketName" not in synth.bucket(name)["Properties"], name
    assert "AliasName" not in json.dumps(synth.json)


@pytest.mark.parametrize("name", ALL_BUCKETS)
def test_bucket_is_retained(synth: Synth, name: str) -> None:
    bucket = synth.bucket(name)
    assert bucket["DeletionPolicy"] == "Retain"
    assert bucket["UpdateReplacePolicy"] == "Retain"


@pytest.mark.parametrize("name", ALL_BUCKETS)
def test_bucket_blocks_public_access(synth: Synth, name: str) -> None:
    assert synth.bucket(name)["Properties"]["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }


@pytest.mark.parametrize("name", ALL_BUCKETS)
def test_bucket_owner_enforced_and_versioned(synth: Synth, name: str) -> None:
    props = synth.bucket(name)["Properties"]
    assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}


@pytest.mark.parametrize("name", ALL_BUCKETS)
def test_bucket_policy_denies_plain_http(synth: Synth, name: str) -> None:
    bucket_arn = {"Fn::GetAtt": [synth.ids[name], "Arn"]}
    statements = synth.bucket_policy(name)["Properties"]["PolicyDocument"]["Statement"]
    assert {
        "Action": "s3:*",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Resource": [bucket_arn, {"Fn::Join": ["", [bucket_arn, "/*"]]}],
    } in statements


@pytest.mark.parametrize("name", KMS_BUCKETS)
def test_bucket_uses_the_kms_key_with_bucket_key(synth: Synth, name: str) -> None:
    sse = synth.bucket(name)["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert sse == [
        {
            "BucketKeyEnabled": True,
            "ServerSideEncryptionByDefault": {
                "KMSMasterKeyID": {"Fn::GetAtt": [synth.key_id, "Arn"]},
                "SSEAlgorithm": "aws:kms",
            },
        }
    ]


def test_access_log_bucket_uses_sse_s3(synth: Synth) -> None:
    # Server access log delivery does not support SSE-KMS destination buckets.
    sse = synth.bucket("access_log")["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert sse == [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]


@pytest.mark.parametrize("name", KMS_BUCKETS)
def test_server_access_logs_go_to_the_log_bucket(synth: Synth, name: str) -> None:
    assert synth.bucket(name)["Properties"]["LoggingConfiguration"] == {
        "DestinationBucketName": {"Ref": synth.ids["access_log"]},
        "LogFilePrefix": ACCESS_LOG_PREFIXES[name],
    }


def test_access_log_prefixes_are_distinct_and_log_bucket_does_not_log_itself(synth: Synth) -> None:
    assert len(set(ACCESS_LOG_PREFIXES.values())) == len(KMS_BUCKETS)
    assert all(p.endswith("/") for p in ACCESS_LOG_PREFIXES.values())
    assert "LoggingConfiguration" not in synth.bucket("access_log")["Properties"]


@pytest.mark.parametrize("name", KMS_BUCKETS)
def test_log_bucket_policy_lets_s3_logging_write_each_prefix(synth: Synth, name: str) -> None:
    log_arn = {"Fn::GetAtt": [synth.ids["access_log"], "Arn"]}
    statements = synth.bucket_policy("access_log")["Properties"]["PolicyDocument"]["Statement"]
    assert {
        "Action": "s3:PutObject",
        "Condition": {
            "ArnLike": {"aws:SourceArn": {"Fn::GetAtt": [synth.ids[name], "Arn"]}},
            "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
        },
        "Effect": "Allow",
        "Principal": {"Service": "logging.s3.amazonaws.com"},
        "Resource": {"Fn::Join": ["", [log_arn, f"/{ACCESS_LOG_PREFIXES[name]}*"]]},
    } in statements


def _rules(synth: Synth, name: str) -> dict[str, dict[str, Any]]:
    rules = synth.bucket(name)["Properties"]["LifecycleConfiguration"]["Rules"]
    return {rule["Id"]: rule for rule in rules}


@pytest.mark.parametrize("name", ALL_BUCKETS)
def test_lifecycle_expires_noncurrent_versions_and_aborts_uploads(synth: Synth, name: str) -> None:
    rules = _rules(synth, name)
    assert rules["ExpireNoncurrentVersions"] == {
        "Id": "ExpireNoncurrentVersions",
        "NoncurrentVersionExpiration": {"NoncurrentDays": NONCURRENT_DAYS},
        "Status": "Enabled",
    }
    assert rules["AbortIncompleteMultipartUploads"] == {
        "Id": "AbortIncompleteMultipartUploads",
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
        "Status": "Enabled",
    }


def test_archive_bucket_transitions_after_configured_days(synth: Synth) -> None:
    rule = _rules(synth, "archive")["TransitionToArchiveStorage"]
    assert rule["Status"] == "Enabled"
    assert rule["Transitions"] == [{"StorageClass": "GLACIER_IR", "TransitionInDays": ARCHIVE_DAYS}]
    assert "Prefix" not in rule and "TagFilters" not in rule  # applies to every object


@pytest.mark.parametrize("name", ("data", "output", "access_log"))
def test_only_the_archive_bucket_transitions(synth: Synth, name: str) -> None:
    assert "TransitionToArchiveStorage" not in _rules(synth, name)
    assert "Transitions" not in json.dumps(_rules(synth, name))


def test_default_config_days(default_synth: Synth) -> None:
    archive = _rules(default_synth, "archive")
    assert archive["TransitionToArchiveStorage"]["Transitions"][0]["TransitionInDays"] == 90
    for name in ALL_BUCKETS:
        expiry = _rules(default_synth, name)["ExpireNoncurrentVersions"]
        assert expiry["NoncurrentVersionExpiration"] == {"NoncurrentDays": 30}


def test_data_bucket_sends_events_to_eventbridge(synth: Synth) -> None:
    assert synth.bucket("data")["Properties"]["NotificationConfiguration"] == {
        "EventBridgeConfiguration": {"EventBridgeEnabled": True}
    }
    synth.template.resource_count_is("Custom::S3BucketNotifications", 0)
    synth.template.resource_count_is("AWS::Lambda::Function", 0)


@pytest.mark.parametrize("name", ("output", "archive", "access_log"))
def test_other_buckets_send_no_events(synth: Synth, name: str) -> None:
    assert "NotificationConfiguration" not in synth.bucket(name)["Properties"]


def test_outputs(synth: Synth) -> None:
    expected = {
        "DataBucketName": {"Ref": synth.ids["data"]},
        "OutputBucketName": {"Ref": synth.ids["output"]},
        "ArchiveBucketName": {"Ref": synth.ids["archive"]},
        "KmsKeyArn": {"Fn::GetAtt": [synth.key_id, "Arn"]},
        "AccessLogBucketName": {"Ref": synth.ids["access_log"]},  # retained too: make destroy lists it
        "LeaseTableName": {"Ref": synth.stack.get_logical_id(synth.stack.lease.table.node.default_child)},
    }
    for output_id, value in expected.items():
        synth.template.has_output(output_id, {"Value": value, "Description": Match.any_value()})
    assert set(synth.json["Outputs"]) == set(expected)
    assert all("Export" not in o for o in synth.json["Outputs"].values())


def test_public_attributes_for_later_stacks(synth: Synth) -> None:
    stack = synth.stack
    assert isinstance(stack.key, kms.Key)
    for name in ALL_BUCKETS:
        assert isinstance(getattr(stack, f"{name}_bucket"), s3.Bucket)
    assert stack.data_bucket.encryption_key is stack.key


def test_synth_is_environment_agnostic_without_env(synth: Synth) -> None:
    assert cdk.Token.is_unresolved(synth.stack.account)
    assert cdk.Token.is_unresolved(synth.stack.region)


def test_stack_requires_keyword_config() -> None:
    with pytest.raises(TypeError):
        StorageStack(cdk.App(context=CDK_JSON_CONTEXT), "Positional", DeploymentConfig())  # type: ignore[call-arg]


def test_missing_log_policy_feature_flag_is_a_clear_error() -> None:
    context = {**CDK_JSON_CONTEXT, LOGS_USE_BUCKET_POLICY_FLAG: False}
    with pytest.raises(ValueError, match="serverAccessLogsUseBucketPolicy"):
        StorageStack(cdk.App(context=context), "NoFlag", config=DeploymentConfig())


# --------------------------------------------------------------------------- configuration


def _context(values: dict[str, Any]) -> Any:
    return values.get


def test_config_defaults() -> None:
    config = DeploymentConfig.from_context(_context({}))
    assert config == DeploymentConfig()
    assert (config.archive_transition_days, config.noncurrent_version_days, config.log_retention_days) == (
        90,
        30,
        90,
    )
    assert config.notification_email is None
    assert config.budget_instance_hours == DEFAULT_BUDGET_INSTANCE_HOURS  # the cost guard is on by default
    assert (config.max_poll_hours, config.poll_interval_seconds) == (72.0, 300)
    assert config.log_retention is logs.RetentionDays.THREE_MONTHS


def test_config_from_object_and_single_keys() -> None:
    config = DeploymentConfig.from_context(
        _context(
            {
                CONTEXT_KEY: {
                    "archive_transition_days": 30,
                    "notification_email": " ml-team@example.com ",
                    "poll_interval_seconds": 60,
                },
                # `cdk synth -c nova-cpt:poll_interval_seconds=600` passes text; it overrides the object.
                f"{CONTEXT_KEY}:poll_interval_seconds": "600",
                f"{CONTEXT_KEY}:budget_instance_hours": "1500.5",
                f"{CONTEXT_KEY}:log_retention_days": 3653,
            }
        )
    )
    assert config.archive_transition_days == 30
    assert config.notification_email == "ml-team@example.com"
    assert config.poll_interval_seconds == 600
    assert config.budget_instance_hours == 1500.5
    assert config.log_retention is logs.RetentionDays.TEN_YEARS


def test_config_object_as_json_text_and_null_word() -> None:
    config = DeploymentConfig.from_context(
        _context(
            {
                CONTEXT_KEY: '{"max_poll_hours": 240, "notification_email": "a@b.co"}',
                f"{CONTEXT_KEY}:notification_email": "null",
            }
        )
    )
    assert config.max_poll_hours == 240
    assert config.notification_email is None


def test_cdk_json_context_is_valid() -> None:
    assert DeploymentConfig.from_context(CDK_JSON_CONTEXT.get) == DeploymentConfig()


def test_config_is_frozen_and_forbids_extra_fields() -> None:
    config = DeploymentConfig()
    with pytest.raises(ValidationError):
        config.max_poll_hours = 1
    with pytest.raises(ValidationError):
        DeploymentConfig(max_poll_hour=1)  # type: ignore[call-arg]


BAD_VALUES = [
    # (context key, value, text the "allowed" part must contain)
    ("archive_transition_days", 29, "an integer >= 30"),
    ("archive_transition_days", "ninety", "an integer >= 30"),
    ("archive_transition_days", 90.5, "an integer >= 30"),
    ("archive_transition_days", True, "an integer >= 30"),
    ("noncurrent_version_days", 0, "an integer from 1 to 3650"),
    ("noncurrent_version_days", 3651, "an integer from 1 to 3650"),
    ("log_retention_days", 100, "one of the CloudWatch Logs retention periods 1, 3, 5, 7, 14, 30"),
    ("log_retention_days", 0, "one of the CloudWatch Logs retention periods 1, 3,"),
    ("notification_email", "not-an-email", "an e-mail address"),
    ("notification_email", "a b@example.com", "an e-mail address"),
    ("notification_email", 42, "an e-mail address"),
    ("budget_instance_hours", 0, "a number > 0"),
    ("budget_instance_hours", -5.0, "a number > 0"),
    ("max_poll_hours", 0, "a number > 0 and <= 240"),
    ("max_poll_hours", 240.5, "a number > 0 and <= 240"),
    ("poll_interval_seconds", 29, "an integer from 30 to 3600"),
    ("poll_interval_seconds", 3601, "an integer from 30 to 3600"),
    ("max_near_duplicate_rate", 1.5, "a number from 0 to 1"),
    ("max_validation_overlap", -1, "an integer >= 0"),
    ("max_mojibake_rate", "some", "a number from 0 to 1"),
]


@pytest.mark.parametrize(("field", "value", "allowed"), BAD_VALUES)
def test_bad_value_in_object_is_one_line_config_error(field: str, value: Any, allowed: str) -> None:
    with pytest.raises(ConfigError) as info:
        DeploymentConfig.from_context(_context({CONTEXT_KEY: {field: value}}))
    message = str(info.value)
    assert "\n" not in message
    assert f"'{CONTEXT_KEY}.{field}'" in message
    assert f"got {json.dumps(value)};" in message
    assert f"allowed: {allowed}" in message
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(("field", "value", "allowed"), BAD_VALUES[:3] + BAD_VALUES[-2:])
def test_bad_single_key_names_that_key(field: str, value: Any, allowed: str) -> None:
    key = f"{CONTEXT_KEY}:{field}"
    with pytest.raises(ConfigError) as info:
        DeploymentConfig.from_context(_context({CONTEXT_KEY: {field: 100}, key: value}))
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"invalid CDK context '{key}': got {json.dumps(value)}; allowed: {allowed}")


def test_several_bad_values_are_reported_on_one_line() -> None:
    with pytest.raises(ConfigError) as info:
        DeploymentConfig.from_context(_context({CONTEXT_KEY: {"max_poll_hours": 999, "poll_interval_seconds": 1}}))
    message = str(info.value)
    assert "\n" not in message
    assert "'nova-cpt.max_poll_hours': got 999" in message
    assert "'nova-cpt.poll_interval_seconds': got 1" in message


def test_unknown_key_is_config_error() -> None:
    with pytest.raises(ConfigError) as info:
        DeploymentConfig.from_context(_context({CONTEXT_KEY: {"archive_days": 90}}))
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("unknown CDK context key 'nova-cpt.archive_days' (value 90); allowed keys: ")
    assert "archive_transition_days" in message


def test_a_misspelt_single_key_stops_synthesis_naming_the_closest_setting() -> None:
    """`-c nova-cpt:budget_instance_hour=400` must not leave the cost guard silently at its default."""
    app = cdk.App(context={**CDK_JSON_CONTEXT, f"{CONTEXT_KEY}:budget_instance_hour": "400"})
    with pytest.raises(ConfigError) as info:
        build_app(app)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("unknown CDK context key 'nova-cpt:budget_instance_hour' (value \"400\")")
    assert message.endswith("did you mean 'budget_instance_hours'?")


def test_every_setting_says_what_it_allows() -> None:
    """The allowed values live in each field's description (the one-line error quotes it), for every stack."""
    for name, field in DeploymentConfig.model_fields.items():
        assert field.description and len(field.description) > 10, name
    assert set(DeploymentConfig.model_fields) == (
        set(StorageConfig.model_fields) | set(ClusterConfig.model_fields) | set(PipelineConfig.model_fields)
    )


@pytest.mark.parametrize("raw", ["not json", [1, 2], 7])
def test_context_object_of_wrong_type_is_config_error(raw: Any) -> None:
    with pytest.raises(ConfigError) as info:
        DeploymentConfig.from_context(_context({CONTEXT_KEY: raw}))
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"invalid CDK context 'nova-cpt': got {json.dumps(raw)}; allowed: a JSON object")


def test_long_bad_value_is_shortened_to_one_line() -> None:
    with pytest.raises(ConfigError) as info:
        DeploymentConfig.from_context(_context({CONTEXT_KEY: {"notification_email": "x\n" * 200}}))
    message = str(info.value)
    assert "\n" not in message and "..." in message and len(message) < 300


# --------------------------------------------------------------------------- app.py exit code


def _run_app(context: dict[str, Any], outdir: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CDK_"))}
    env |= {
        "CDK_CONTEXT_JSON": json.dumps(context),  # how the CDK CLI hands context to the app
        "CDK_OUTDIR": str(outdir),
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    return subprocess.run(
        [sys.executable, "app.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.fixture
def outdir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "cdk.out"


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        (
            {CONTEXT_KEY: {"archive_transition_days": 10}},
            "invalid CDK context 'nova-cpt.archive_transition_days': got 10; allowed: an integer >= 30 "
            "(days before archive objects move to Glacier Instant Retrieval)",
        ),
        (
            {f"{CONTEXT_KEY}:poll_interval_seconds": "5"},
            "invalid CDK context 'nova-cpt:poll_interval_seconds': got \"5\"; allowed: an integer from 30 "
            "to 3600 (seconds between job status polls)",
        ),
    ],
)
def test_app_exits_1_with_one_line_on_bad_context(context: dict[str, Any], expected: str, outdir: Path) -> None:
    result = _run_app(context, outdir)
    assert result.returncode == 1, result.stderr
    assert result.stderr == expected + "\n"
    assert result.stdout == ""
    assert not list(outdir.glob("*.template.json"))


def test_the_lease_table_is_stateful_encrypted_and_recoverable(synth: Synth) -> None:
    """On-demand, encrypted with the project key, point-in-time recovery, kept when the stack goes."""
    ((table_id, table),) = [(k, r) for k, r in synth.json["Resources"].items() if r["Type"] == "AWS::DynamoDB::Table"]
    props = table["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["SSESpecification"] == {
        "KMSMasterKeyId": {"Fn::GetAtt": [synth.key_id, "Arn"]},
        "SSEEnabled": True,
        "SSEType": "KMS",
    }
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["DeletionProtectionEnabled"] is True
    assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain"
    assert props["KeySchema"] == [
        {"AttributeName": "group", "KeyType": "HASH"},
        {"AttributeName": "entry", "KeyType": "RANGE"},
    ]
    policies = [r for r in synth.json["Resources"].values() if r["Type"] == "AWS::IAM::ManagedPolicy"]
    lease_policies = [p for p in policies if table_id in json.dumps(p)]
    actions = sorted(
        a
        for p in lease_policies
        for st in p["Properties"]["PolicyDocument"]["Statement"]
        for a in (st["Action"] if isinstance(st["Action"], list) else [st["Action"]])
        if a.startswith("dynamodb:")
    )
    assert "dynamodb:Scan" not in actions and not any("*" in a for a in actions)
    assert set(actions) == {
        "dynamodb:GetItem",
        "dynamodb:Query",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
    }
