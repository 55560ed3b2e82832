"""Corpus quality in what a run leaves: the notification, run.json's datasets and the run report (language pie)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from novacpt.run_report import report_data
from novacpt.steps.notify import build_message
from tests.examples import dataset_summary, run_state

pytest.importorskip("matplotlib", reason="matplotlib draws the charts (a cpt dependency)")

from novacpt_cli.metrics import TrainingMetrics
from novacpt_cli.report import render_report

QUALITY: dict[str, Any] = {
    "records": 1000,
    "near_duplicates": {"rate": 0.163, "count": 163, "threshold": 0.8, "clusters": [[4, 301], [7, 9, 12]]},
    "languages": {"ja": 0.62, "en": 0.3, "fr": 0.05, "de": 0.01, "es": 0.01, "it": 0.005, "nl": 0.005},
    "mojibake": {"count": 8, "rate": 0.008, "lines": [361, 362]},
    "validation_overlap": {"exact": 3, "near": 2, "lines": [1, 2, 3, 9, 10]},
}
HEADLINE = {
    "records": 1000,
    "near_duplicates": {"rate": 0.163, "count": 163, "threshold": 0.8},
    "languages": QUALITY["languages"],
    "mojibake": {"count": 8, "rate": 0.008},
    "validation_overlap": {"exact": 3, "near": 2},
}


def test_the_notification_gives_each_datasets_quality() -> None:
    state = run_state(datasets=[dataset_summary(quality=HEADLINE)])
    message = build_message(state, succeeded=True, execution_arn="arn:x", log_group=None).message
    assert (
        "train data quality: near copies 16.3%; languages ja 62%, en 30%, fr 5%, de 1%; mojibake 8 records; "
        "validation overlap 3 exact, 2 near"
    ) in message


def test_report_data_keeps_the_figures_without_the_line_lists() -> None:
    record = {"run_id": "r", "datasets": [{"role": "train", "uri": "s3://d/t.jsonl", "quality": HEADLINE}]}
    (dataset,) = report_data(record, {"train": {"stats": {"records": 1000}, "quality": QUALITY}})["datasets"]
    assert dataset["quality"] == HEADLINE
    (from_record,) = report_data(record, {})["datasets"]  # no dataset report: run.json's headline
    assert from_record["quality"] == HEADLINE


def test_the_report_page_has_a_language_pie_and_the_quality_rows(tmp_path: Path) -> None:
    record = {"run_id": "r", "status": "SUCCEEDED", "datasets": [{"role": "train", "uri": "s3://d/t.jsonl"}]}
    data = report_data(record, {"train": {"stats": {"records": 1000}, "quality": QUALITY}})
    page = render_report(data, TrainingMetrics(), tmp_path)
    assert (tmp_path / "languages.png").read_bytes().startswith(b"\x89PNG")
    text = page.read_text()
    assert "<img src='languages.png'" in text
    for row in ("near-duplicates", "163 (16.30 %", "ja 62.0%", "mojibake", "validation overlap", "3 exact, 2 near"):
        assert row in text, row
