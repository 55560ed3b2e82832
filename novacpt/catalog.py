"""The one table of Nova CPT models: identifiers, base paths, replica sets, seed timings."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class NovaModel:
    """One Nova 1.0 model that supports CPT on HyperPod."""

    key: str  # short name used in configuration: micro, lite, pro
    model_type: str
    base_path: str
    replicas: tuple[int, ...]
    # Seed timing (domain facts section 4): GBS 256, max_length 8192.
    seed_samples: int
    seed_instances: int
    seed_hours: float


MODELS: tuple[NovaModel, ...] = (
    NovaModel("micro", "amazon.nova-micro-v1:0:128k", "nova-micro/prod", (2, 4, 8), 100_000, 8, 4.0),
    NovaModel("lite", "amazon.nova-lite-v1:0:300k", "nova-lite/prod", (4, 8, 16, 32), 100_000, 16, 4.0),
    NovaModel("pro", "amazon.nova-pro-v1:0:300k", "nova-pro/prod", (6, 12, 24), 100_000, 24, 10.0),
)

BY_TYPE: dict[str, NovaModel] = {m.model_type: m for m in MODELS}
BY_KEY: dict[str, NovaModel] = {m.key: m for m in MODELS}

INSTANCE_TYPE = "ml.p5.48xlarge"
GPUS_PER_INSTANCE = 8
EFA_PER_INSTANCE = 32

# Regions with Nova CPT images, and the ECR account that serves them (domain facts section 6).
IMAGE_ACCOUNTS: dict[str, str] = {
    "us-east-1": "708977205387",
    "us-west-2": "176779409107",
    "ap-northeast-1": "878185805882",
}
# The images of a Nova 1.0 CPT job, as ECR repository:tag in each region's image account.
TRAINING_IMAGE = "nova-fine-tune-repo:HP-CPT-latest"
INIT_IMAGE = "init-container-repo:latest"


class UnsupportedRegion(ValueError):
    """A region without Nova CPT images."""


def image_uri(region: str, image: str) -> str:
    """The ECR URI of `image` (repository:tag) in `region`; UnsupportedRegion when it has no Nova CPT images."""
    account = IMAGE_ACCOUNTS.get(region)
    if account is None:
        raise UnsupportedRegion(
            f"region {region!r} has no Nova CPT images; use one of {', '.join(sorted(IMAGE_ACCOUNTS))}"
        )
    return f"{account}.dkr.ecr.{region}.amazonaws.com/{image}"


def model_by_type(model_type: str) -> NovaModel | None:
    """The catalogue entry for a recipe's `run.model_type`, or None when unknown."""
    return BY_TYPE.get(model_type)
