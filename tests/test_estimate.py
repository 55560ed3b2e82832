"""Estimates follow the seed's table: linear in samples x epochs, inverse in replicas."""

from __future__ import annotations

import pytest

from novacpt.catalog import BY_KEY
from novacpt.estimate import estimate_run


@pytest.mark.parametrize(("key", "replicas", "hours"), [("micro", 8, 4.0), ("lite", 16, 4.0), ("pro", 24, 10.0)])
def test_seed_points_are_reproduced(key: str, replicas: int, hours: float) -> None:
    result = estimate_run(BY_KEY[key], samples=100_000, epochs=1, replicas=replicas)
    assert result.hours == hours
    assert result.instance_hours == hours * replicas
    assert result.cost_usd is None


def test_linear_in_samples_and_epochs_inverse_in_replicas() -> None:
    lite = BY_KEY["lite"]
    base = estimate_run(lite, samples=100_000, epochs=1, replicas=16).hours
    assert estimate_run(lite, samples=200_000, epochs=1, replicas=16).hours == 2 * base
    assert estimate_run(lite, samples=100_000, epochs=3, replicas=16).hours == 3 * base
    assert estimate_run(lite, samples=100_000, epochs=1, replicas=32).hours == base / 2
    # Instance-hours do not change with replicas under the perfect-scaling assumption.
    assert estimate_run(lite, samples=100_000, epochs=1, replicas=32).instance_hours == 64.0


def test_dollars_only_when_priced() -> None:
    result = estimate_run(BY_KEY["micro"], samples=50_000, epochs=2, replicas=4, price_per_instance_hour=100.0)
    assert result.hours == 8.0
    assert result.instance_hours == 32.0
    assert result.cost_usd == 3200.0
    assert "assumptions" in result.to_dict()


def test_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        estimate_run(BY_KEY["micro"], samples=10, epochs=0, replicas=2)
