"""The ConfigMap and PyTorchJob of one Nova CPT job (domain facts section 6), rendered as `helm template` would.

A pure function of the recipe, region, account, job name, execution and namespace. The ConfigMap
holds the recipe as it will run; its `run.name` is the job name, as in AWS's launcher (whose job
name is `run.name`), so the trainer writes its outputs under `<output_s3_path>/<job name>/`.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import yaml

from novacpt.catalog import (
    EFA_PER_INSTANCE,
    GPUS_PER_INSTANCE,
    INIT_IMAGE,
    INSTANCE_TYPE,
    TRAINING_IMAGE,
    UnsupportedRegion,
    image_uri,
)
from novacpt.recipe import Recipe

DEFAULT_NAMESPACE = "kubeflow"
CONFIG_KEY = "config.yaml"
CONFIG_MOUNT = "/config"
CONTAINER = "pytorch"  # the training operator wires rendezvous settings into the container of this name
JOB_NAME_LABEL = "training.kubeflow.org/job-name"  # the training operator puts it on the job's pods
RUN_LABEL = "novacpt/run"
EXECUTION_LABEL = "novacpt/execution"
EXECUTION_ANNOTATION = "novacpt/execution-name"  # the execution name in full (a label value is capped at 63)
MANAGED_BY = {"app.kubernetes.io/managed-by": "novacpt"}
NAME_MAX = 63

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_LABEL_VALUE = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
_NOT_LABEL = re.compile(r"[^-A-Za-z0-9_.]+")
_ACCOUNT = re.compile(r"[0-9]{12}")

INIT_CONTAINER = "init-container"
APP_LABEL = "app"  # AWS's template labels the job (not its pods) app=<job name>

# Restricted instance group nodes: taint and node labels (AWS's launcher requires both, sorted as Helm ranges).
_TOLERATION = {"key": "sagemaker.amazonaws.com/RestrictedNode", "operator": "Equal", "value": "Worker"}
_NODE_GROUP_LABEL = ("sagemaker.amazonaws.com/instance-group-type", "Restricted")
# The pod's volumes and who mounts them, exactly as AWS's template `training.yaml` (domain facts section 6):
# the closed images expect these paths, the same inside and outside the container.
CONFIG_VOLUME = "training-config"
_HOST_PATHS = (  # (volume name, path on the node, hostPath type, path in the container)
    ("fsx-path-main", "/sagemaker/fsx/main", "DirectoryOrCreate", "/sagemaker/fsx/main"),
    ("fsx-path-init", "/sagemaker/fsx/init", "DirectoryOrCreate", "/sagemaker/fsx/init"),
    ("logs", "/var/log/aws/clusters", "DirectoryOrCreate", "/var/log/aws/clusters"),
    (
        "fsx-path-output-artifacts",
        "/sagemaker/fsx/output_artifacts",
        "DirectoryOrCreate",
        "/sagemaker/fsx/output_artifacts",
    ),
    ("tmp-storage", "/opt/dlami/nvme", "Directory", "/tmp"),
)
_MOUNT_PATHS = {name: mount for name, _, _, mount in _HOST_PATHS} | {CONFIG_VOLUME: CONFIG_MOUNT, "dshm": "/dev/shm"}
_VOLUME_ORDER = (
    "fsx-path-main",
    "fsx-path-init",
    CONFIG_VOLUME,
    "dshm",
    "logs",
    "fsx-path-output-artifacts",
    "tmp-storage",
)
_TRAINER_MOUNTS = ("fsx-path-main", CONFIG_VOLUME, "dshm", "logs", "fsx-path-output-artifacts", "tmp-storage")
_INIT_MOUNTS = (
    "fsx-path-init",
    CONFIG_VOLUME,
    "logs",
)  # not k8s-ca-cert: see the README, differences from the launcher


def config_map_name(job_name: str) -> str:
    """The name of the job's ConfigMap."""
    return f"training-config-{job_name}"


def label_value(text: str) -> str:
    """`text` as a Kubernetes label value: unchanged when valid, else a readable prefix plus a hash (<= 63)."""
    if len(text) <= NAME_MAX and (not text or _LABEL_VALUE.fullmatch(text)):
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:10]
    prefix = _NOT_LABEL.sub("-", text)[: NAME_MAX - len(digest) - 1].strip("-_.")
    return f"{prefix}-{digest}" if prefix else digest


def dns_label_problem(what: str, name: str, *, letter_first: bool = False) -> str | None:
    """Why `name` is not a DNS-1123 label of at most 63 characters (starting with a letter if asked), or None."""
    if len(name) > NAME_MAX or not _DNS_LABEL.fullmatch(name) or (letter_first and not name[0].isalpha()):
        start = ", starting with a letter" if letter_first else ""
        return f"{what} {name!r} must be a DNS-1123 label: lowercase letters, digits and '-'{start}, at most {NAME_MAX}"
    return None


def render_manifests(
    recipe: Recipe,
    *,
    region: str,
    account: str,
    job_name: str,
    execution: str,
    namespace: str = DEFAULT_NAMESPACE,
) -> list[dict[str, Any]]:
    """[ConfigMap, PyTorchJob] for one job.

    Raises ValueError naming every argument that is not usable (see `target_problems`).
    """
    _check(recipe, region=region, account=account, job_name=job_name, namespace=namespace)
    labels = {**MANAGED_BY, RUN_LABEL: recipe.run.name, EXECUTION_LABEL: label_value(execution)}

    def metadata(name: str, **extra_labels: str) -> dict[str, Any]:
        annotations = {EXECUTION_ANNOTATION: execution}
        return {"name": name, "namespace": namespace, "labels": {**extra_labels, **labels}, "annotations": annotations}

    config = recipe.model_dump(mode="json", exclude_unset=True)
    config["run"]["name"] = job_name
    config_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(config_map_name(job_name)),
        "data": {CONFIG_KEY: yaml.safe_dump(config, sort_keys=False)},
    }
    replicas = {"Master": 1, "Worker": recipe.run.replicas - 1}
    if replicas["Worker"] == 0:  # AWS's template renders no Worker spec for a single node
        del replicas["Worker"]
    job = {
        "apiVersion": "kubeflow.org/v1",
        "kind": "PyTorchJob",
        "metadata": metadata(job_name, **{APP_LABEL: job_name}),
        "spec": {
            "runPolicy": {"cleanPodPolicy": "None"},  # finished pods stay, so failure reasons can be read
            "pytorchReplicaSpecs": {
                role: {
                    "replicas": count,
                    "restartPolicy": "OnFailure",
                    "template": _pod_template(
                        job_name, labels, region=region, account=account, image=recipe.nova_model.training_image
                    ),
                }
                for role, count in replicas.items()
            },
        },
    }
    return [config_map, job]


def target_problems(*, region: str, account: str, namespace: str, job_name: str | None = None) -> list[str]:
    """What is wrong with where a job would run (region with images, account, namespace, job name)."""
    problems = [dns_label_problem("namespace", namespace)]
    if job_name is not None:
        problems.append(dns_label_problem("job name", job_name, letter_first=True))
    if not _ACCOUNT.fullmatch(account):
        problems.append(f"account {account!r} must be 12 digits")
    try:
        image_uri(region, TRAINING_IMAGE)
    except UnsupportedRegion as exc:
        problems.append(str(exc))
    return [p for p in problems if p]


def _check(recipe: Recipe, *, region: str, account: str, job_name: str, namespace: str) -> None:
    problems = target_problems(region=region, account=account, namespace=namespace, job_name=job_name)
    # The training operator names each replica's pod and service <job>-worker-<i>: a DNS label too.
    longest = f"{job_name}-worker-{max(recipe.run.replicas - 2, 0)}"
    if len(longest) > NAME_MAX:
        problems.append(
            f"job name {job_name!r} is too long for {recipe.run.replicas} replicas: the service {longest!r} "
            f"would exceed {NAME_MAX} characters; shorten run.name"
        )
    if problems:
        raise ValueError("; ".join(problems))


def _pod_template(job_name: str, labels: dict[str, str], *, region: str, account: str, image: str) -> dict[str, Any]:
    env = [
        {"name": k, "value": v}
        for k, v in sorted(
            {"AWS_REGION": region, "INSTANCE_TYPE": INSTANCE_TYPE, "X_AMZ_SOURCE_ACCOUNT": account}.items()
        )
    ]
    devices = {"nvidia.com/gpu": GPUS_PER_INSTANCE, "vpc.amazonaws.com/efa": EFA_PER_INSTANCE}
    node_labels = sorted([_NODE_GROUP_LABEL, ("node.kubernetes.io/instance-type", INSTANCE_TYPE)])
    sources: dict[str, dict[str, Any]] = {
        name: {"hostPath": {"path": path, "type": kind}} for name, path, kind, _ in _HOST_PATHS
    }
    sources[CONFIG_VOLUME] = {"configMap": {"name": config_map_name(job_name)}}
    sources["dshm"] = {"emptyDir": {"medium": "Memory"}}

    def mounts(names: tuple[str, ...]) -> list[dict[str, str]]:
        return [{"name": name, "mountPath": _MOUNT_PATHS[name]} for name in names]

    return {
        "metadata": {"labels": dict(labels)},
        "spec": {
            "tolerations": [{**_TOLERATION, "effect": "NoSchedule"}],
            "initContainers": [
                {
                    "name": INIT_CONTAINER,
                    "image": image_uri(region, INIT_IMAGE),
                    "imagePullPolicy": "Always",
                    "env": [dict(e) for e in env],
                    "volumeMounts": mounts(_INIT_MOUNTS),
                }
            ],
            "containers": [
                {
                    "name": CONTAINER,
                    "image": image_uri(region, image),  # the image of the recipe's generation
                    "env": [dict(e) for e in env],
                    "imagePullPolicy": "Always",
                    "resources": {"limits": dict(devices), "requests": dict(devices)},
                    "securityContext": {"capabilities": {"add": ["IPC_LOCK"]}},
                    "volumeMounts": mounts(_TRAINER_MOUNTS),
                }
            ],
            "affinity": {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [
                            {"matchExpressions": [{"key": k, "operator": "In", "values": [v]} for k, v in node_labels]}
                        ]
                    }
                }
            },
            "volumes": [{"name": name, **sources[name]} for name in _VOLUME_ORDER],
        },
    }


class _Dumper(yaml.SafeDumper):
    """Block style for multi-line strings (the recipe in the ConfigMap reads as YAML), and no aliases."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def to_yaml(documents: list[dict[str, Any]]) -> str:
    """Multi-document YAML, each document after a `---` line."""
    return "".join("---\n" + yaml.dump(doc, Dumper=_Dumper, sort_keys=False) for doc in documents)
