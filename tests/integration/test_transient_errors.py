"""Temporary AWS errors become TransientError (retried by the state machine), never a validation failure."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from typer.testing import CliRunner

from novacpt.contract import ExecutionInput, Shard
from novacpt.kernel.errors import RecipeInvalid, TransientError
from novacpt.kernel.s3access import S3Access
from novacpt.kernel.settings import Deployment, RecipeSettings
from novacpt.steps.dataset import validate_shard_step
from novacpt.steps.recipe import validate_recipe_step
from novacpt_cli import app
from tests.conftest import ROOT

ACCOUNT = "123456789012"
DEPLOYMENT = Deployment(
    account_id=ACCOUNT, region="us-east-1", data_bucket="data-bucket", output_bucket="output-bucket",
    archive_bucket="archive-bucket",
)  # fmt: skip
SETTINGS = RecipeSettings(**DEPLOYMENT.model_dump())
RUN = ExecutionInput(recipe_s3_uri="s3://data-bucket/jobs/a/recipe.yaml")


def _slow_down(*_: Any, **__: Any) -> Any:
    raise ClientError(
        {"Error": {"Code": "SlowDown", "Message": "slow down"}, "ResponseMetadata": {"HTTPStatusCode": 503}}, "Op"
    )


@pytest.fixture
def s3() -> Any:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        for bucket in ("data-bucket", "output-bucket", "archive-bucket"):
            client.create_bucket(Bucket=bucket)
        yield client


def test_a_throttled_shard_read_is_retried_not_a_failure(s3: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    s3.put_object(Bucket="data-bucket", Key="jobs/a/train.jsonl", Body=b'{"text": "x"}\n')
    monkeypatch.setattr(s3, "get_object", _slow_down)
    shard = Shard(run_id="r", role="train", uri="s3://data-bucket/jobs/a/train.jsonl", version_id=None, index=0,
                  start=0, end=14, size=14, partitions=1)  # fmt: skip
    with pytest.raises(TransientError, match="SlowDown"):
        validate_shard_step(S3Access(s3, ACCOUNT), DEPLOYMENT, shard)


def test_a_throttled_region_check_is_retried_not_an_invalid_recipe(s3: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    s3.put_object(Bucket="data-bucket", Key="jobs/a/train.jsonl", Body=b'{"text": "x"}\n')
    recipe = (ROOT / "recipes" / "nova_lite_cpt.yaml").read_bytes()
    s3.put_object(Bucket="data-bucket", Key="jobs/a/recipe.yaml", Body=recipe)
    access = S3Access(s3, ACCOUNT)
    with monkeypatch.context() as throttled:  # only this part: the fixture's environment stays
        throttled.setattr(s3, "get_bucket_location", _slow_down)
        with pytest.raises(TransientError):
            validate_recipe_step(access, SETTINGS, RUN, run_id="r")
    s3.delete_object(Bucket="data-bucket", Key="jobs/a/train.jsonl")
    with pytest.raises(RecipeInvalid, match="does not exist"):  # a real problem is still a validation failure
        validate_recipe_step(access, SETTINGS, RUN, run_id="r")


def test_submit_refuses_a_job_folder_the_trigger_would_ignore(tmp_path: Path) -> None:
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps({"text": f"note {i}"}) + "\n" for i in range(10)))
    recipe = ROOT / "recipes" / "nova_lite_cpt.yaml"
    result = CliRunner().invoke(app, ["submit", "--recipe", str(recipe), "--data", str(data), "--job", "my job/x"])
    assert result.exit_code == 2
    assert "my job/x" in result.output


def test_a_throttled_recipe_read_is_retried_not_an_invalid_recipe(s3: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    recipe = (ROOT / "recipes" / "nova_lite_cpt.yaml").read_bytes()
    s3.put_object(Bucket="data-bucket", Key="jobs/a/recipe.yaml", Body=recipe)
    monkeypatch.setattr(s3, "get_object", _slow_down)
    with pytest.raises(TransientError, match="SlowDown"):  # the state machine retries it; the recipe is fine
        validate_recipe_step(S3Access(s3, ACCOUNT), SETTINGS, RUN, run_id="r")
