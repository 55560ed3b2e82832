"""The data of a run report: what the run was, what it cost beside its estimate, its datasets, what comes next.

Pure and small (no plotting): the pipeline's ArchiveOutputs step writes it as `runs/<run>/report.json`
beside `run.json` (novacpt.steps.report). `cpt report` and `cpt demo --out` read that file, or, for a run
archived before it existed, build it here from `run.json` and the datasets' reports; they render it with
the archived TensorBoard curves as an HTML page and PNG charts.
"""

from __future__ import annotations

import math
from typing import Any

REPORT_FILE = "report.json"
REPORT_SCHEMA = 1


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def price_per_instance_hour(estimate: dict[str, Any] | None) -> float | None:
    """The price the estimate was made with (cost / instance-hours), when it had one."""
    cost, hours = _number((estimate or {}).get("cost_usd")), _number((estimate or {}).get("instance_hours"))
    return cost / hours if cost is not None and hours else None


def _dataset(entry: dict[str, Any], report: dict[str, Any] | None) -> dict[str, Any]:
    stats = (report or {}).get("stats") or {}
    return {
        "role": entry.get("role"),
        "uri": entry.get("uri"),
        "version_id": entry.get("version_id"),
        "records": stats.get("records", entry.get("records")),
        "bytes": stats.get("bytes", entry.get("bytes")),
        "estimated_tokens": stats.get("estimated_tokens"),
        "length_tokens": stats.get("length_tokens"),
        "length_histogram": stats.get("length_histogram"),
        "exact_duplicates": _duplicates(stats.get("exact_duplicates")),
        "normalised_duplicates": _duplicates(stats.get("normalised_duplicates")),
        "warnings": [w.get("message") for w in (report or {}).get("warnings") or [] if isinstance(w, dict)],
        "quality": quality_headline((report or {}).get("quality")) or entry.get("quality"),
    }


def quality_headline(quality: Any) -> dict[str, Any] | None:
    """A dataset report's corpus-quality figures without their line lists (rates, languages, counts)."""
    if not isinstance(quality, dict):
        return None
    lists = {"near_duplicates": "clusters", "mojibake": "lines", "validation_overlap": "lines"}
    return {
        key: {k: v for k, v in value.items() if k != lists.get(key)} if isinstance(value, dict) else value
        for key, value in quality.items()
    }


def _duplicates(value: Any) -> dict[str, Any] | None:
    return {"count": value.get("count"), "rate": value.get("rate")} if isinstance(value, dict) else None


def total_steps(recipe: dict[str, Any] | None, records: int | None) -> int | None:
    """Optimizer steps of the run: `trainer.max_steps` (Nova 2.0), else records x epochs / global batch size."""
    config = (recipe or {}).get("training_config") or {}
    trainer = config.get("trainer") or {}
    if isinstance(trainer.get("max_steps"), int):
        return int(trainer["max_steps"])
    batch, epochs = config.get("global_batch_size"), trainer.get("max_epochs")
    if not (isinstance(batch, int) and isinstance(epochs, int) and records) or batch <= 0:
        return None
    return max(1, math.ceil(records * epochs / batch))


def tokens_per_step(recipe: dict[str, Any] | None) -> int | None:
    """Tokens one optimizer step trains on: global batch size x max_length (CPT packs full sequences)."""
    config = (recipe or {}).get("training_config") or {}
    batch, length = config.get("global_batch_size"), config.get("max_length")
    return batch * length if isinstance(batch, int) and isinstance(length, int) else None


def report_data(record: dict[str, Any], dataset_reports: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The report of one run from its `run.json` record and its datasets' reports (keyed by role)."""
    recipe = (record.get("recipe_as_run") or {}).get("content") or {}
    run = recipe.get("run") or {}
    estimate = record.get("estimate") or {}
    actual = dict(record.get("actual") or {})
    price = price_per_instance_hour(estimate)
    instance_hours = _number(actual.get("instance_hours"))
    actual["cost_usd"] = round(instance_hours * price, 2) if price is not None and instance_hours is not None else None
    datasets = [_dataset(d, dataset_reports.get(str(d.get("role")))) for d in record.get("datasets") or []]
    train_records = next((d["records"] for d in datasets if d["role"] == "train"), None)
    return {
        "schema": REPORT_SCHEMA,
        "run_id": record.get("run_id"),
        "status": record.get("status"),
        "job_name": record.get("job_name"),
        "model_type": run.get("model_type"),
        "replicas": run.get("replicas"),
        "estimate": {
            "hours": estimate.get("hours"),
            "instance_hours": estimate.get("instance_hours"),
            "cost_usd": estimate.get("cost_usd"),
        },
        "actual": actual,
        "price_per_instance_hour": None if price is None else round(price, 4),
        "total_steps": total_steps(recipe, train_records if isinstance(train_records, int) else None),
        "tokens_per_step": tokens_per_step(recipe),
        "datasets": datasets,
        "recipe_as_run": recipe or None,
        "checkpoint": record.get("checkpoint"),
        "next_run": record.get("next_run"),
        "error": record.get("error"),
        "timings": record.get("timings"),
    }
