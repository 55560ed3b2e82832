"""The emulated deployment the executed state-machine tests drive (the fixtures are in conftest.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from novacpt.naming import job_name
from novacpt_dev.emulator.deployment import LocalDeployment
from novacpt_dev.emulator.invoke import Invocation
from novacpt_dev.hyperpod_fake import FakeHyperPod
from tests.conftest import ROOT

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's account
TRAIN = b"".join(
    json.dumps({"text": f"Clinical trial note {i}: dosage and outcomes."}).encode() + b"\n" for i in range(300)
)


@dataclass
class Pipeline:
    """An emulated deployment, the knobs of its scripted jobs, and the stateful HyperPod fake."""

    local: LocalDeployment
    calls: list[Invocation]
    env: dict[str, str]
    s3: Any
    cluster: FakeHyperPod

    def drop(self, job: str, recipe: bytes, train: bytes | None = TRAIN) -> str:
        data = self.local.buckets["data"]
        if train is not None:
            self.s3.put_object(Bucket=data, Key=f"jobs/{job}/train.jsonl", Body=train)
        self.s3.put_object(Bucket=data, Key=f"jobs/{job}/recipe.yaml", Body=recipe)
        return f"s3://{data}/jobs/{job}/recipe.yaml"

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        listing = self.s3.list_objects_v2(Bucket=self.local.buckets[bucket], Prefix=prefix)
        return sorted(o["Key"] for o in listing.get("Contents", []))

    def called(self, function_prefix: str) -> list[Invocation]:
        """The invocations of the one deployed function whose name starts with `function_prefix`."""
        names = [f for f in self.local.templates.resources("NovaCptPipeline", "AWS::Lambda::Function")
                 if f.startswith(function_prefix)]  # fmt: skip
        assert len(names) == 1, f"{function_prefix!r} names {len(names)} deployed functions: {names}"
        return [c for c in self.calls if c.function == names[0]]


def lite_recipe(**changes: str) -> bytes:
    text = (ROOT / "recipes" / "nova_lite_cpt.yaml").read_text()
    for old, new in changes.items():
        text = text.replace(old, new)
    return text.encode()


def put_outputs(p: Pipeline, job: str, execution: str, *, tensorboard_files: int = 3) -> str:
    """What the trainer writes: the manifest (with the checkpoint) and TensorBoard event files."""
    name = job_name("nova-lite-cpt", execution)
    out = p.local.buckets["output"]
    checkpoint = f"s3://customer-escrow-{ACCOUNT}-abc/{name}/checkpoint"
    p.s3.put_object(
        Bucket=out, Key=f"{job}/{name}/manifest.json", Body=json.dumps({"checkpoint_s3_bucket": checkpoint})
    )
    for i in range(tensorboard_files):
        p.s3.put_object(Bucket=out, Key=f"{job}/{name}/tensorboard/events.out.tfevents.{i}", Body=b"event" * 10)
    return checkpoint
