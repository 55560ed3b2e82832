"""The one table of Nova CPT models: identifiers, generation, base paths, replica sets, images, seed timings.

Sources (see the README, "Models"):
- model types, base paths and replica sets: the official recipes (aws/sagemaker-hyperpod-recipes,
  `recipes_collection/recipes/training/nova/*_pretrain.yaml`, the `replicas` comments) and the
  Nova CPT documentation page (the seed); Micro takes 2, 4, 8, 16 or 32 as its official recipe says;
- images: the launcher's `nova_regional_parameters.json` (`HP-CPT-latest` for Nova 1.0,
  `SM-HP-CPT-V2-latest` for Nova 2.0, same accounts and regions);
- seed timings: the seed's training-time table (100,000 samples of 8,192 tokens at global
  batch size 256). It has no Nova 2.0 row: Nova 2.0 Lite borrows Nova 1.0 Lite's rate (an assumption,
  stated by `timing_note`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Generation = Literal["1.0", "2.0"]

# The seed's calibration run: samples of max_length tokens at this global batch size.
SEED_SAMPLES = 100_000
SEED_MAX_LENGTH = 8192
SEED_GLOBAL_BATCH_SIZE = 256


@dataclass(frozen=True, slots=True)
class NovaModel:
    """One Nova model that supports CPT on HyperPod."""

    key: str  # short name used in configuration (cdk.json `nova-cpt:model`): micro, lite, pro, lite-2
    generation: Generation
    model_type: str
    base_path: str
    replicas: tuple[int, ...]
    training_image: str  # ECR repository:tag in each region's image account
    official_recipe: str  # the official recipe's name (its key in nova_regional_parameters.json)
    # Seed timing (domain facts section 4): SEED_SAMPLES x SEED_MAX_LENGTH tokens at GBS 256.
    seed_instances: int
    seed_hours: float
    timing_note: str = "seed table"

    @property
    def label(self) -> str:
        """Human name: "Nova 2.0 Lite"."""
        name = self.key.split("-")[0].capitalize()
        return f"Nova {self.generation} {name}"

    @property
    def tokens_per_instance_hour(self) -> float:
        """Training throughput of one P5 instance, calibrated on the seed's table."""
        return SEED_SAMPLES * SEED_MAX_LENGTH / (self.seed_hours * self.seed_instances)


_V1_IMAGE = "nova-fine-tune-repo:HP-CPT-latest"
_V2_IMAGE = "nova-fine-tune-repo:SM-HP-CPT-V2-latest"

MODELS: tuple[NovaModel, ...] = (
    NovaModel(
        "micro", "1.0", "amazon.nova-micro-v1:0:128k", "nova-micro/prod", (2, 4, 8, 16, 32),
        _V1_IMAGE, "nova_micro_1_0_p5x8_gpu_pretrain", 8, 4.0,
    ),
    NovaModel(
        "lite", "1.0", "amazon.nova-lite-v1:0:300k", "nova-lite/prod", (4, 8, 16, 32),
        _V1_IMAGE, "nova_lite_1_0_p5x16_gpu_pretrain", 16, 4.0,
    ),
    NovaModel(
        "pro", "1.0", "amazon.nova-pro-v1:0:300k", "nova-pro/prod", (6, 12, 24),
        _V1_IMAGE, "nova_pro_1_0_p5x24_gpu_pretrain", 24, 10.0,
    ),
    NovaModel(
        "lite-2", "2.0", "amazon.nova-2-lite-v1:0:256k", "nova-lite-2/prod", (4, 8, 16, 32),
        _V2_IMAGE, "nova_lite_2_0_p5x8_gpu_pretrain", 16, 4.0,
        timing_note="no seed row for Nova 2.0: Nova 1.0 Lite's rate is assumed",
    ),
)  # fmt: skip

BY_TYPE: dict[str, NovaModel] = {m.model_type: m for m in MODELS}
BY_KEY: dict[str, NovaModel] = {m.key: m for m in MODELS}
MODEL_KEYS: tuple[str, ...] = tuple(BY_KEY)

INSTANCE_TYPE = "ml.p5.48xlarge"
GPUS_PER_INSTANCE = 8
EFA_PER_INSTANCE = 32

# Regions with Nova CPT images, and the ECR account that serves them (domain facts section 6).
IMAGE_ACCOUNTS: dict[str, str] = {
    "us-east-1": "708977205387",
    "us-west-2": "176779409107",
    "ap-northeast-1": "878185805882",
}
# The Nova 1.0 training image (kept for callers that do not know the model; prefer NovaModel.training_image).
TRAINING_IMAGE = _V1_IMAGE
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


def training_image_uri(model: NovaModel, region: str) -> str:
    """The training image of `model`'s generation in `region` (UnsupportedRegion when it has none)."""
    return image_uri(region, model.training_image)


def model_by_type(model_type: str) -> NovaModel | None:
    """The catalogue entry for a recipe's `run.model_type`, or None when unknown."""
    return BY_TYPE.get(model_type)


def replica_sets() -> str:
    """The allowed replica counts of every model, for messages: "micro 2, 4, 8, 16, 32; lite ..."."""
    return "; ".join(f"{m.key} {', '.join(map(str, m.replicas))}" for m in MODELS)
