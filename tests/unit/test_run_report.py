"""Run reports: the data (novacpt.run_report), the TensorBoard metrics and the HTML page with PNG charts."""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

import pytest

from novacpt.run_report import report_data, tokens_per_step, total_steps

tensorboardX = pytest.importorskip("tensorboardX", reason="tensorboardX (the demo extra) writes the test event files")
pytest.importorskip("tensorboard", reason="tensorboard reads event files (a cpt dependency)")
pytest.importorskip("matplotlib", reason="matplotlib draws the charts (a cpt dependency)")

from novacpt_cli.metrics import training_metrics  # noqa: E402
from novacpt_cli.report import REPORT_PAGE, render_report  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"
RECIPE = {
    "run": {"name": "pharma", "model_type": "amazon.nova-lite-v1:0:300k", "replicas": 16},
    "training_config": {"max_length": 8192, "global_batch_size": 256, "trainer": {"max_epochs": 2}},
}


def _record(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "run_id": "pharma-0123",
        "status": "SUCCEEDED",
        "job_name": "pharma-0123abcd",
        "recipe_as_run": {"content": RECIPE},
        "estimate": {"hours": 4.0, "instance_hours": 64.0, "cost_usd": 6292.48},
        "actual": {"hours": 4.5, "instance_hours": 72.0},
        "datasets": [{"role": "train", "uri": "s3://data/jobs/pharma/train.jsonl", "records": 1000}],
        "checkpoint": "s3://customer-escrow-123456789012-x/pharma/",
        "next_run": {"run.model_name_or_path": "s3://customer-escrow-123456789012-x/pharma/"},
        "error": None,
    }
    return record | changes


DATASET_REPORT = {
    "stats": {
        "records": 1000,
        "bytes": 2_000_000,
        "estimated_tokens": 500_000,
        "length_tokens": {"p50": 400, "p90": 900, "p99": 1500, "max": 2000},
        "length_histogram": [
            {"min_tokens": 0, "max_tokens": 0, "records": 0},
            {"min_tokens": 256, "max_tokens": 511, "records": 600},
            {"min_tokens": 512, "max_tokens": 1023, "records": 380},
            {"min_tokens": 1024, "max_tokens": 2047, "records": 20},
        ],
        "exact_duplicates": {"count": 25, "rate": 0.025},
        "normalised_duplicates": {"count": 31, "rate": 0.031},
    },
    "warnings": [{"code": "duplicate_rate", "message": "25 of 1000 records (2.5%) repeat an earlier record"}],
}


def test_report_data_prices_the_actual_hours_like_the_estimate() -> None:
    data = report_data(_record(), {"train": DATASET_REPORT})
    assert data["price_per_instance_hour"] == pytest.approx(98.32)
    assert data["actual"]["cost_usd"] == pytest.approx(72.0 * 98.32)
    (train,) = data["datasets"]
    assert (train["records"], train["estimated_tokens"]) == (1000, 500_000)
    assert train["exact_duplicates"] == {"count": 25, "rate": 0.025}
    assert train["normalised_duplicates"] == {"count": 31, "rate": 0.031}
    assert data["total_steps"] == math.ceil(1000 * 2 / 256)
    assert data["next_run"] == {"run.model_name_or_path": "s3://customer-escrow-123456789012-x/pharma/"}


def test_report_data_without_price_has_no_dollars() -> None:
    data = report_data(_record(estimate={"hours": 1.0, "instance_hours": 16.0, "cost_usd": None}), {})
    assert data["actual"]["cost_usd"] is None and data["price_per_instance_hour"] is None


def test_steps_from_max_steps_or_epochs() -> None:
    nova2 = {"training_config": {"global_batch_size": 64, "max_length": 4096, "trainer": {"max_steps": 500}}}
    assert total_steps(nova2, 10) == 500
    assert total_steps(RECIPE, 256) == 2
    assert total_steps(RECIPE, None) is None
    assert tokens_per_step(nova2) == 64 * 4096


def _events(folder: Path, points: dict[str, list[tuple[int, float, float]]]) -> Path:
    writer = tensorboardX.SummaryWriter(logdir=str(folder))
    for tag, values in points.items():
        for step, value, wall in values:
            writer.add_scalar(tag, value, step, walltime=wall)
    writer.close()
    return folder


def test_metrics_read_nemo_style_tags_and_derive_throughput(tmp_path: Path) -> None:
    points = {
        "reduced_train_loss": [(s, 3.0 - s * 0.1, 1000.0 + 10 * s) for s in range(10)],
        "val_loss": [(4, 2.7, 1040.0), (9, 2.3, 1090.0)],
        "train_step_timing in s": [(s, 10.0, 1000.0 + 10 * s) for s in range(10)],
        "lr": [(s, 1e-5, 1000.0 + 10 * s) for s in range(10)],
    }
    metrics = training_metrics(_events(tmp_path, points), tokens_per_step=256 * 8192)
    assert metrics.step == 10  # steps 0..9 logged: ten done
    assert metrics.train_loss is not None and metrics.train_loss.last() == pytest.approx(2.1)
    assert metrics.validation_loss is not None and metrics.validation_loss.values == pytest.approx([2.7, 2.3])
    assert metrics.throughput is not None and metrics.throughput.last() == pytest.approx(256 * 8192 / 10)
    assert metrics.seconds_per_step() == pytest.approx(10.0)
    assert metrics.eta_seconds(total_steps=100) == pytest.approx((100 - 10) * 10.0)


def test_metrics_skip_non_finite_values_and_survive_an_empty_folder(tmp_path: Path) -> None:
    points = {"train/loss": [(0, 2.0, 1.0), (1, float("nan"), 2.0), (2, float("inf"), 3.0), (3, 1.5, 4.0)]}
    metrics = training_metrics(_events(tmp_path / "tb", points))
    assert metrics.train_loss is not None and metrics.train_loss.steps == [0, 3]
    empty = training_metrics(tmp_path / "nothing-here")
    assert empty.train_loss is None and empty.step is None and empty.eta_seconds(10) is None


def test_report_page_and_charts(tmp_path: Path) -> None:
    from novacpt_dev.demo.trainer import simulated_curves

    metrics = training_metrics(_events(tmp_path / "tb", simulated_curves(120)), tokens_per_step=256 * 8192)
    hostile = "<script>alert(1)</script> \ud800"
    data = report_data(_record(job_name=hostile), {"train": DATASET_REPORT})
    page = render_report(data, metrics, tmp_path / "out")
    assert page.name == REPORT_PAGE
    for chart in ("loss.png", "throughput.png", "hours.png", "lengths.png"):
        assert (tmp_path / "out" / chart).read_bytes().startswith(PNG), chart
    text = page.read_text(encoding="utf-8")
    assert "<script>" not in text and "&lt;script&gt;" in text
    for expected in ("<h2>Loss</h2>", "loss.png", "Recipe as run", "pharma-0123"):
        assert expected in text
    assert "run.model_name_or_path: s3://customer-escrow-123456789012-x/pharma/" in text
    assert "normalised duplicates" in text and "6,292.48" in text


def test_simulated_trainer_writes_a_noisy_falling_loss() -> None:
    from novacpt_dev.demo.trainer import simulated_curves

    curves = simulated_curves(400)
    loss = [value for _, value, _ in curves["train/loss"]]
    assert len(loss) == 400 and len(curves["val/loss"]) == 8
    assert sum(loss[:20]) / 20 > sum(loss[-20:]) / 20 + 0.5  # it learns
    steps_up = sum(1 for a, b in itertools.pairwise(loss) if b > a)
    assert steps_up > 100  # and it is noisy, as mini-batch losses are


def test_watch_snapshot_takes_the_steps_from_the_estimate_or_the_limits() -> None:
    from novacpt_cli.metrics import TrainingMetrics
    from novacpt_cli.watch import run_snapshot, total_steps

    nested = {"recipe": {"limits": {"global_batch_size": 256, "max_epochs": 2}}, "estimate": {"samples": 1000}}
    assert total_steps(nested) == 8  # ceil(1000 x 2 / 256)
    assert total_steps({**nested, "estimate": {"steps": 500}}) == 500
    assert total_steps({}) is None
    state = {"status": "RUNNING", "state": "PollJob", "document": {**nested, "estimate": {"steps": 500, "hours": 2}}}
    snapshot = run_snapshot(state, TrainingMetrics())
    assert (snapshot["total_steps"], snapshot["step"], snapshot["eta_seconds"], snapshot["estimate_hours"]) == (
        500,
        None,
        None,
        2,
    )
