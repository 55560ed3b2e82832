"""Create, in moto, the resources of the synthesised app that a run touches, and run executions.

There is no HyperPod cluster in moto: the handlers drive the cluster `handlers_in_process` gives them
(the scripted fake by default, backed by the stateful HyperPod fake when one is installed), and the
cluster stack's ARN is a stand-in.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, field
from typing import Any

import boto3

from novacpt.adapters.stepfunctions import follow_execution
from novacpt_dev.emulator.template import Templates

STORAGE, PIPELINE, CLUSTER = "NovaCptStorage", "NovaCptPipeline", "NovaCptCluster"
_BUCKET_OUTPUTS = {"data": "DataBucketName", "output": "OutputBucketName", "archive": "ArchiveBucketName"}


def _empty_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("placeholder.py", "# the emulator runs the handlers from this checkout\n")
    return buffer.getvalue()


@dataclass
class ExecutionResult:
    """How an execution ended, with its output or error and the states it went through."""

    arn: str
    status: str
    output: dict[str, Any] | None
    error: str | None
    cause: str | None
    states: list[str] = field(default_factory=list)


@dataclass
class LocalDeployment:
    """The emulated deployment: bucket names, the state machine, the topic and its captured messages."""

    templates: Templates
    buckets: dict[str, str]
    state_machine_arn: str
    topic_arn: str
    inbox_url: str
    release_state_machine_arn: str = ""
    lease_table: str = ""

    def start(self, execution_input: dict[str, Any], name: str | None = None) -> str:
        """Start an execution (as the console would); return its ARN."""
        extra = {"name": name} if name else {}
        answer = _sfn().start_execution(
            stateMachineArn=self.state_machine_arn, input=json.dumps(execution_input), **extra
        )
        return str(answer["executionArn"])

    def wait(self, arn: str, *, timeout_s: float | None = None, on_state: Any = None) -> ExecutionResult:
        """Wait for an execution to end; `on_state(name)` is called as each state is entered.

        No clock unless `timeout_s` is given (the demo gives one); in tests a hang is pytest-timeout's.
        """
        description, states = follow_execution(
            _sfn(), arn, on_state=on_state or (lambda _: None), poll_seconds=0.05, timeout_s=timeout_s
        )
        output = json.loads(description["output"]) if description.get("output") else None
        return ExecutionResult(
            arn, description["status"], output, description.get("error"), description.get("cause"), states
        )

    def notifications(self) -> list[dict[str, str]]:
        """Messages published to the run topic so far (subject and body), oldest first."""
        sqs = boto3.client("sqs", region_name=self.templates.region)
        found: list[dict[str, str]] = []
        while True:
            batch = sqs.receive_message(QueueUrl=self.inbox_url, MaxNumberOfMessages=10).get("Messages", [])
            if not batch:
                return found
            for message in batch:
                body = json.loads(message["Body"])
                found.append({"subject": body.get("Subject", ""), "message": body.get("Message", "")})
                sqs.delete_message(QueueUrl=self.inbox_url, ReceiptHandle=message["ReceiptHandle"])


def _sfn() -> Any:
    return boto3.client("stepfunctions")


def deploy(templates: Templates) -> LocalDeployment:
    """Create buckets, topic, functions and the state machine of the templates in moto (inside mock_aws)."""
    region, account = templates.region, templates.account
    s3 = boto3.client("s3", region_name=region)
    for logical_id in templates.resources(STORAGE, "AWS::S3::Bucket"):
        name = logical_id.lower()[:63]
        templates.refs[(STORAGE, logical_id)] = name
        templates.arns[(STORAGE, logical_id)] = f"arn:aws:s3:::{name}"
        extra = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        s3.create_bucket(Bucket=name, **extra)
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    outputs = templates.stacks[STORAGE]["Outputs"]
    buckets = {role: templates.resolve(STORAGE, outputs[key]["Value"]) for role, key in _BUCKET_OUTPUTS.items()}
    dynamodb = boto3.client("dynamodb", region_name=region)
    tables = []
    for logical_id, resource in templates.resources(STORAGE, "AWS::DynamoDB::Table").items():
        props = resource["Properties"]
        name = logical_id.lower()
        templates.refs[(STORAGE, logical_id)] = name
        templates.arns[(STORAGE, logical_id)] = f"arn:aws:dynamodb:{region}:{account}:table/{name}"
        dynamodb.create_table(
            TableName=name,
            KeySchema=props["KeySchema"],
            AttributeDefinitions=props["AttributeDefinitions"],
            BillingMode="PAY_PER_REQUEST",
        )
        tables.append(name)

    for logical_id in templates.resources(CLUSTER, "AWS::SageMaker::Cluster") if CLUSTER in templates.stacks else {}:
        arn = f"arn:aws:sagemaker:{region}:{account}:cluster/emulated0000"
        templates.attributes[(CLUSTER, logical_id, "ClusterArn")] = arn

    (topic_id,) = templates.resources(PIPELINE, "AWS::SNS::Topic")
    sns = boto3.client("sns", region_name=region)
    topic_arn = sns.create_topic(Name=topic_id)["TopicArn"]
    templates.refs[(PIPELINE, topic_id)] = topic_arn
    sqs = boto3.client("sqs", region_name=region)
    inbox = sqs.create_queue(QueueName=f"{topic_id}-inbox")["QueueUrl"]
    inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=inbox_arn)

    machines = templates.resources(PIPELINE, "AWS::StepFunctions::StateMachine")
    arns = {}
    for logical_id in machines:
        arns[logical_id] = f"arn:aws:states:{region}:{account}:stateMachine:{logical_id}"
        templates.refs[(PIPELINE, logical_id)] = arns[logical_id]
    (machine_id,) = [m for m in machines if m.startswith("Run")]
    releases = [m for m in machines if m.startswith("Release")]
    functions = templates.resources(PIPELINE, "AWS::Lambda::Function")
    for logical_id in functions:
        templates.refs[(PIPELINE, logical_id)] = logical_id
        templates.arns[(PIPELINE, logical_id)] = f"arn:aws:lambda:{region}:{account}:function:{logical_id}"

    iam = boto3.client("iam", region_name=region)
    role_arn = iam.create_role(RoleName="emulated-pipeline", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    lambda_ = boto3.client("lambda", region_name=region)
    code = _empty_zip()
    for logical_id, resource in functions.items():
        props = resource["Properties"]
        variables = templates.resolve(PIPELINE, props.get("Environment", {}).get("Variables", {}))
        lambda_.create_function(
            FunctionName=logical_id,
            Runtime="python3.12",
            Role=role_arn,
            Handler=props["Handler"],
            Code={"ZipFile": code},
            Timeout=int(props.get("Timeout", 3)),
            MemorySize=int(props.get("MemorySize", 128)),
            Environment={"Variables": {k: str(v) for k, v in variables.items()}},
        )
    for logical_id, machine in machines.items():
        definition = templates.resolve(PIPELINE, machine["Properties"]["DefinitionString"])
        _sfn().create_state_machine(name=logical_id, definition=definition, roleArn=role_arn)
    return LocalDeployment(
        templates,
        buckets,
        arns[machine_id],
        topic_arn,
        inbox,
        release_state_machine_arn=arns[releases[0]] if releases else "",
        lease_table=tables[0] if tables else "",
    )
