"""The emulated deployment the executed state-machine tests drive (the fixtures are in conftest.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from novacpt.naming import job_name
from novacpt_dev.emulator.deployment import LocalDeployment
from novacpt_dev.emulator.invoke import Invocation
from novacpt_dev.hyperpod_fake import FakeHyperPod
from novacpt_dev.k8s_standin import KubernetesStandIn
from tests.conftest import ROOT

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's account
TRAIN = b"".join(
    json.dumps({"text": f"Clinical trial note {i}: dosage and outcomes."}).encode() + b"\n" for i in range(300)
)


@dataclass
class KubernetesCalls:
    """The stand-in Kubernetes API the job functions reach, and the requests each function made of it."""

    standin: KubernetesStandIn
    by_function: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    @contextmanager
    def in_function(self, name: str) -> Iterator[None]:
        """Requests received while active were made by function `name` (the emulator runs one handler at a time)."""
        start = len(self.standin.requests)
        try:
            yield
        finally:
            self.by_function.setdefault(name, []).extend(self.standin.requests[start:])


@dataclass
class Pipeline:
    """An emulated deployment, the knobs of its scripted jobs, the stateful HyperPod fake, and (when the jobs run
    on the stand-in Kubernetes API) that API and the requests each function made of it."""

    local: LocalDeployment
    calls: list[Invocation]
    env: dict[str, str]
    s3: Any
    cluster: FakeHyperPod
    kubernetes: KubernetesCalls | None = None

    @property
    def standin(self) -> KubernetesStandIn:
        """The stand-in API the jobs run on (only with the `kubernetes_pipeline` fixture)."""
        assert self.kubernetes is not None, "this pipeline's jobs run on the HyperPod fake, not the stand-in API"
        return self.kubernetes.standin

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
