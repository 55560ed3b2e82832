"""The contract checks themselves fail when their rule is broken on purpose.

The S3 hook (tests/aws_calls.py) runs on every test; the IAM check runs after every executed-pipeline test
(tests/integration/conftest.py), and the RBAC check after every executed-pipeline test whose jobs run on the
stand-in Kubernetes API (the same conftest) and every job-backend test against it (test_k8s_standin.py).
Here each one is shown a call that breaks its rule.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from novacpt.kernel.ranged_reader import RangedReader
from novacpt.kernel.s3access import S3Access
from novacpt_dev.emulator.deployment import CLUSTER, PIPELINE, STORAGE, deploy
from novacpt_dev.emulator.template import Templates
from novacpt_dev.k8s_standin import JobScript
from tests import aws_calls
from tests.conftest import ROOT
from tests.integration.emulated import ACCOUNT, REGION, Pipeline, lite_recipe
from tests.permissions import AwsCall, unauthorised_calls, unauthorised_requests

BUCKET = "contract-bucket"


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name=REGION)
        client.create_bucket(Bucket=BUCKET)
        client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        client.put_object(Bucket=BUCKET, Key="jobs/a/train.jsonl", Body=b'{"text": "x"}\n' * 10)
        yield client


def _as_product(source: str, name: str) -> Any:
    """A function compiled as if it were in novacpt/kernel/s3access.py (a mutant of the product)."""
    namespace: dict[str, Any] = {}
    exec(compile(source, str(ROOT / "novacpt" / "kernel" / "s3access.py"), "exec"), namespace)
    return namespace[name]


def test_the_product_s3_calls_pass_the_hook(s3: Any, aws_contract: aws_calls.Recorder) -> None:
    access = S3Access(s3, ACCOUNT)
    info = access.head(f"s3://{BUCKET}/jobs/a/train.jsonl")
    assert info is not None and info.version_id
    access.copy_verified(info, f"s3://{BUCKET}/copy.jsonl")
    with RangedReader(s3, BUCKET, "jobs/a/train.jsonl", start=0, stop=20, version_id=info.version_id,
                      expected_owner=ACCOUNT) as reader:  # fmt: skip
        assert reader.read() == b'{"text": "x"}\n{"text'
    made = {c.operation for c in aws_contract.calls if c.caller}
    assert {"HeadObject", "CopyObject", "GetObject"} <= made
    assert aws_contract.take_violations() == []


@pytest.mark.parametrize(
    ("mutant", "rule"),
    [
        (
            "def call(c): return c.head_object(Bucket='contract-bucket', Key='jobs/a/train.jsonl')",
            "HeadObject of s3://contract-bucket/jobs/a/train.jsonl without ExpectedBucketOwner",
        ),
        (
            "def call(c): return c.copy_object(Bucket='contract-bucket', Key='b', ExpectedBucketOwner='123456789012',"
            " CopySource={'Bucket': 'contract-bucket', 'Key': 'jobs/a/train.jsonl'})",
            "CopyObject of s3://contract-bucket/b without ExpectedSourceBucketOwner",
        ),
        (
            "def call(c): return c.get_object(Bucket='contract-bucket', Key='jobs/a/train.jsonl', Range='bytes=0-9',"
            " ExpectedBucketOwner='123456789012')",
            "(a shard read, bytes=0-9) without VersionId",
        ),
    ],
)
def test_the_hook_fails_a_product_call_that_breaks_the_s3_contract(
    s3: Any, aws_contract: aws_calls.Recorder, mutant: str, rule: str
) -> None:
    call = _as_product(mutant, "call")
    with pytest.raises(aws_calls.ContractViolation, match=r"by novacpt/kernel/s3access\.py"):
        call(s3)
    (violation,) = aws_contract.take_violations()  # taken: otherwise this test fails, as any other would
    assert rule in violation


def test_the_hook_leaves_the_tests_own_set_up_calls_alone(s3: Any, aws_contract: aws_calls.Recorder) -> None:
    s3.head_object(Bucket=BUCKET, Key="jobs/a/train.jsonl")  # made here, in a test: no owner needed
    assert aws_contract.take_violations() == []
    assert [c.caller for c in aws_contract.calls if c.operation == "HeadObject"] == [""]


# --------------------------------------------------------------------------- IAM of each function


@pytest.fixture
def templates(assembly: Path) -> Iterator[Templates]:
    with mock_aws():
        found = Templates.from_dir(assembly, account=ACCOUNT, region=REGION)
        deploy(found)
        yield found


def _function(templates: Templates, name: str) -> str:
    (logical_id,) = [f for f in templates.resources(PIPELINE, "AWS::Lambda::Function") if f.startswith(name)]
    return logical_id


def _shard_read(templates: Templates, function: str) -> AwsCall:
    data = templates.resolve(STORAGE, templates.stacks[STORAGE]["Outputs"]["DataBucketName"]["Value"])
    params = {"Bucket": data, "Key": "jobs/a/train.jsonl", "VersionId": "v1", "Range": "bytes=0-9"}
    return AwsCall("s3", "s3", "GetObject", params, "novacpt/kernel/ranged_reader.py", function)


def test_the_iam_check_passes_a_call_the_role_allows_and_fails_one_it_does_not(templates: Templates) -> None:
    shard = _function(templates, "FunctionsValidateShard")
    read = _shard_read(templates, shard)
    assert unauthorised_calls(templates, [read]) == []
    # The same read made by a function that has no access to the data bucket.
    notify = _function(templates, "FunctionsNotify")
    (problem,) = unauthorised_calls(templates, [_shard_read(templates, notify)])
    assert problem.startswith(f"{notify}: s3 GetObject needs s3:GetObjectVersion on arn:aws:s3:::")


def test_the_iam_check_fails_when_the_role_loses_a_permission(templates: Templates) -> None:
    """s3:GetObjectVersion taken out of the data bucket's read policy: a pinned shard read is refused."""
    shard = _function(templates, "FunctionsValidateShard")
    for resource in templates.stacks[STORAGE]["Resources"].values():
        if resource["Type"] == "AWS::IAM::ManagedPolicy":
            for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                statement["Action"] = [a for a in actions if a != "s3:GetObjectVersion"] or ["s3:None"]
    (problem,) = unauthorised_calls(templates, [_shard_read(templates, shard)])
    assert "needs s3:GetObjectVersion" in problem and "its role does not allow" in problem


def test_the_iam_check_reads_a_resource_built_with_select_and_split(templates: Templates) -> None:
    """AcquireLease may look at any execution of the run state machine (its ARN cut out of the machine's with
    Fn::Select and Fn::Split): a look at the run heading the queue is allowed, one at another machine's is not."""
    acquire = _function(templates, "FunctionsAcquireLease")
    (machine,) = [m for m in templates.resources(PIPELINE, "AWS::StepFunctions::StateMachine") if m.startswith("Run")]
    executions = f"arn:aws:states:{REGION}:{ACCOUNT}:execution"

    def look(arn: str) -> AwsCall:
        return AwsCall("stepfunctions", "sfn", "DescribeExecution", {"executionArn": arn}, "x", acquire)

    assert unauthorised_calls(templates, [look(f"{executions}:{machine}:team-c-e43efa")]) == []
    (problem,) = unauthorised_calls(templates, [look(f"{executions}:OtherMachine:team-c-e43efa")])
    assert "needs states:DescribeExecution" in problem


def test_the_iam_check_names_a_call_it_has_no_rule_for(templates: Templates) -> None:
    call = AwsCall(
        "sagemaker",
        "sagemaker",
        "DescribeCluster",
        {"ClusterName": "c"},
        "x",
        _function(templates, "FunctionsPrepareCapacity"),
    )
    (problem,) = unauthorised_calls(templates, [call])
    assert "no rule for the permissions it needs" in problem


# --------------------------------------------------------------------------- RBAC of the job functions


def test_the_rbac_check_fails_when_the_role_loses_a_verb(kubernetes_pipeline: Pipeline) -> None:
    """A run whose job is cancelled, checked against the cluster stack's RBAC without `delete` on PyTorchJobs:
    the check names CancelJob's delete (and nothing else: the run's other requests are still allowed). Without
    CancelJob's EKS access entry, it names CancelJob's requests too."""
    p = kubernetes_pipeline
    p.standin.default_script = JobScript(("Created", "Running"))  # it would run forever ...
    p.env["MAX_POLL_SECONDS"] = "0.001"  # ... so the run times out and cancels it
    uri = p.drop("trial-rbac", lite_recipe())
    result = p.local.wait(p.local.start({"recipe_s3_uri": uri}, name="run-rbac"))
    assert result.status == "FAILED" and result.error == "JobTimedOut"
    assert p.kubernetes is not None
    assert unauthorised_requests(p.local.templates, p.kubernetes.by_function) == []
    broken = copy.deepcopy(p.local.templates)
    for resource in broken.stacks[CLUSTER]["Resources"].values():
        for variable in resource.get("Properties", {}).get("Environment", {}).get("EnvironmentVariables", []):
            if variable["Name"] == "JOB_RBAC":
                variable["Value"] = variable["Value"].replace(
                    "resources: [pytorchjobs], verbs: [create, get, delete]",
                    "resources: [pytorchjobs], verbs: [create, get]",
                )
    (problem,) = unauthorised_requests(broken, p.kubernetes.by_function)
    cancel = _function(p.local.templates, "FunctionsCancelJob")
    assert problem.startswith(f"{cancel}: DELETE /apis/kubeflow.org/v1/namespaces/kubeflow/pytorchjobs/")
    assert problem.endswith("RBAC allows no delete on kubeflow.org/pytorchjobs")
    # CancelJob's role without its EKS access entry: it belongs to no group the RBAC binds.
    unbound = copy.deepcopy(p.local.templates)
    resources = unbound.stacks[PIPELINE]["Resources"]
    (entry,) = [r for r in resources if r.startswith("FunctionsCancelJobClusterAccess")]
    del resources[entry]
    problems = unauthorised_requests(unbound, p.kubernetes.by_function)
    assert f"{cancel}: made Kubernetes requests, but its role has no EKS access entry" in problems
    assert {line.partition(":")[0] for line in problems} == {cancel}
