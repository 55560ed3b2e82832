"""Training time and cost estimates from the seed's published timings.

Model (stated in the README): hours = seed_hours x (samples x epochs / seed_samples)
x (seed_instances / replicas). The seed gives one point per model at global batch size 256
and max_length 8192; time is linear in samples (the seed says so) and, as an assumption,
inversely proportional to the number of instances (perfect data-parallel scaling).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from novacpt.catalog import INSTANCE_TYPE, NovaModel

ASSUMPTIONS = (
    "seed timings: 100,000 samples at global batch 256 and max_length 8192",
    "time linear in samples x epochs",
    "time inversely proportional to replicas (assumed perfect scaling)",
)


@dataclass(frozen=True, slots=True)
class Estimate:
    """Expected wall-clock hours, P5 instance-hours and, when priced, dollars for one run."""

    model: str
    samples: int
    epochs: int
    replicas: int
    hours: float
    instance_hours: float
    instance_type: str
    cost_usd: float | None

    def to_dict(self) -> dict[str, Any]:
        """JSON form, with the assumptions the figures rest on."""
        return {**asdict(self), "assumptions": list(ASSUMPTIONS)}


def estimate_run(
    model: NovaModel, *, samples: int, epochs: int, replicas: int, price_per_instance_hour: float | None = None
) -> Estimate:
    """Estimate one run of `samples` records for `epochs` epochs on `replicas` P5 instances."""
    if samples < 0 or epochs < 1 or replicas < 1:
        raise ValueError("samples must be >= 0, epochs and replicas >= 1")
    hours = model.seed_hours * (samples * epochs / model.seed_samples) * (model.seed_instances / replicas)
    instance_hours = hours * replicas
    cost = None if price_per_instance_hour is None else round(instance_hours * price_per_instance_hour, 2)
    return Estimate(
        model.key, samples, epochs, replicas, round(hours, 3), round(instance_hours, 3), INSTANCE_TYPE, cost
    )
