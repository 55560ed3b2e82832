"""Render a run report: an HTML page and PNG charts (matplotlib, Agg backend) in one folder.

Input: the report data (`novacpt.run_report.report_data`) and the TensorBoard metrics of the run
(`novacpt_cli.metrics`). Output: `report.html`, `loss.png`, `throughput.png`, `hours.png`,
`lengths.png` (each chart only when there is something to draw).
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import yaml

from novacpt_cli.metrics import Series, TrainingMetrics, training_metrics

REPORT_PAGE = "report.html"
_BLUE, _ORANGE, _GREY = "#1f77b4", "#d95f02", "#9a9a9a"


def _figure(title: str, xlabel: str, ylabel: str) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.2), dpi=100)
    ax.set_title(title, fontsize=13, loc="left")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return fig, ax


def _save(fig: Any, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)
    return path


def _smoothed(values: list[float], weight: float = 0.9) -> list[float]:
    """TensorBoard's exponential moving average (debiased), to show the trend through the noise."""
    out, last = [], 0.0
    for n, value in enumerate(values, start=1):
        last = last * weight + (1 - weight) * value
        out.append(last / (1 - weight**n))
    return out


def loss_chart(metrics: TrainingMetrics, path: Path) -> Path | None:
    """Training loss (raw and smoothed) and validation loss over steps."""
    train, validation = metrics.train_loss, metrics.validation_loss
    if not (train and train.steps) and not (validation and validation.steps):
        return None
    fig, ax = _figure("Training and validation loss", "step", "loss")
    if train and train.steps:
        ax.plot(train.steps, train.values, color=_BLUE, alpha=0.25, linewidth=1, label="training (raw)")
        ax.plot(train.steps, _smoothed(train.values), color=_BLUE, linewidth=2, label="training (smoothed)")
    if validation and validation.steps:
        ax.plot(validation.steps, validation.values, color=_ORANGE, marker="o", linewidth=2, label="validation")
    ax.legend(frameon=False)
    return _save(fig, path)


def throughput_chart(series: Series | None, path: Path) -> Path | None:
    """Training throughput in tokens per second over steps."""
    if series is None or not series.steps:
        return None
    fig, ax = _figure("Throughput", "step", "tokens per second")
    ax.plot(series.steps, series.values, color=_GREY, alpha=0.5, linewidth=1, label="per step")
    ax.plot(series.steps, _smoothed(series.values), color=_BLUE, linewidth=2, label="smoothed")
    ax.set_ylim(bottom=0)
    ax.yaxis.set_major_formatter(_thousands())
    ax.legend(frameon=False)
    return _save(fig, path)


def _thousands() -> Any:
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda value, _: f"{value:,.0f}")


def hours_chart(data: dict[str, Any], path: Path) -> Path | None:
    """Estimated beside actual hours (and dollars, when the estimate was priced)."""
    estimate, actual = data.get("estimate") or {}, data.get("actual") or {}
    if estimate.get("hours") is None and actual.get("hours") is None:
        return None
    fig, ax = _figure("Estimate and actual", "hours of training", "")
    labels, values, colours = ["estimate", "actual"], [estimate.get("hours"), actual.get("hours")], [_GREY, _BLUE]
    bars = ax.barh(labels, [v or 0 for v in values], color=colours, height=0.5)
    for bar, value, side in zip(bars, values, (estimate, actual), strict=True):
        text = "not known" if value is None else f"{value:,.2f} h"
        if side.get("instance_hours") is not None:
            text += f", {side['instance_hours']:,.1f} instance-hours"
        if side.get("cost_usd") is not None:
            text += f", ${side['cost_usd']:,.2f}"
        ax.annotate(
            text,
            (bar.get_width(), bar.get_y() + bar.get_height() / 2),
            xytext=(6, 0),
            textcoords="offset points",
            va="center",
        )
    ax.set_xlim(0, max(v or 0 for v in values) * 1.9 or 1)
    ax.invert_yaxis()
    fig.set_size_inches(8, 2.6)
    return _save(fig, path)


def lengths_chart(datasets: list[dict[str, Any]], path: Path) -> Path | None:
    """Records by estimated token length (power-of-two ranges), one series per dataset."""
    drawn = [d for d in datasets if any(b["records"] for b in d.get("length_histogram") or [])]
    if not drawn:
        return None
    fig, ax = _figure("Record lengths", "estimated tokens per record", "records")
    widest = max(drawn, key=lambda d: len(d["length_histogram"]))["length_histogram"]
    first = min(next(i for i, b in enumerate(d["length_histogram"]) if b["records"]) for d in drawn)
    labels = [_range_label(b) for b in widest[first:]]
    width = 0.8 / len(drawn)
    for index, dataset in enumerate(drawn):
        counts = [b["records"] for b in dataset["length_histogram"][first:]]
        xs = [i + index * width - 0.4 + width / 2 for i in range(len(counts))]
        ax.bar(xs, counts, width=width, color=(_BLUE, _ORANGE, _GREY)[index % 3], label=str(dataset.get("role")))
    ax.set_xticks(range(len(labels)), labels, rotation=45 if len(labels) > 6 else 0, ha="right", fontsize=9)
    ax.yaxis.set_major_formatter(_thousands())
    ax.legend(frameon=False)
    return _save(fig, path)


def languages_chart(datasets: list[dict[str, Any]], path: Path) -> Path | None:
    """The training set's languages as a pie (share of records; the smallest grouped as "other")."""
    quality = next((d.get("quality") for d in datasets if d.get("role") == "train" and d.get("quality")), None)
    shares = dict((quality or {}).get("languages") or {})
    if not shares:
        return None
    ranked = sorted(shares.items(), key=lambda kv: -kv[1])
    shown = ranked[:6]
    other = sum(share for _, share in ranked[6:])
    if other > 0:
        shown.append(("other", other))
    fig, ax = _figure("Training data languages (share of records)", "", "")
    ax.pie([s for _, s in shown], labels=[f"{code} {share:.1%}" for code, share in shown], startangle=90)
    ax.axis("equal")
    fig.set_size_inches(6, 4)
    return _save(fig, path)


def _quality_pairs(quality: dict[str, Any] | None) -> list[tuple[str, str]]:
    if not quality:
        return []
    near, mojibake = quality.get("near_duplicates") or {}, quality.get("mojibake") or {}
    pairs = [
        (
            "near-duplicates",
            f"{_value(near.get('count'))} ({_value((near.get('rate') or 0) * 100, ' %')}, "
            f"Jaccard &ge; {_value(near.get('threshold'))})",
        ),
        (
            "languages",
            html.escape(", ".join(f"{c} {s:.1%}" for c, s in (quality.get("languages") or {}).items())) or "-",
        ),
        ("mojibake", f"{_value(mojibake.get('count'))} ({_value((mojibake.get('rate') or 0) * 100, ' %')})"),
    ]
    if overlap := quality.get("validation_overlap"):
        pairs.append(
            ("validation overlap", f"{_value(overlap.get('exact'))} exact, {_value(overlap.get('near'))} near")
        )
    return pairs


def _range_label(bucket: dict[str, int]) -> str:
    low, high = bucket["min_tokens"], bucket["max_tokens"]
    return f"{low:,}" if low == high else f"{low:,}-{high:,}"


def _value(value: Any, unit: str = "") -> str:
    if value is None:
        return "<span class=muted>not known</span>"
    if isinstance(value, float):
        return html.escape(f"{value:,.2f}{unit}")
    if isinstance(value, int):
        return html.escape(f"{value:,}{unit}")
    return html.escape(str(value))


def _steps(done: int | None, total: Any) -> str:
    if isinstance(total, int) and done is not None and done <= total:
        return f"{_value(done)} of {_value(total)}"
    return _value(done)


def _rows(pairs: list[tuple[str, str]]) -> str:
    return "".join(f"<tr><th>{html.escape(k)}</th><td>{v}</td></tr>" for k, v in pairs)


def _dataset_section(dataset: dict[str, Any]) -> str:
    lengths = dataset.get("length_tokens") or {}
    exact, normalised = dataset.get("exact_duplicates") or {}, dataset.get("normalised_duplicates")
    pairs = [
        ("file", _value(dataset.get("uri"))),
        ("records", _value(dataset.get("records"))),
        ("estimated tokens", _value(dataset.get("estimated_tokens"))),
        ("length p50 / p90 / p99 / max", " / ".join(_value(lengths.get(k)) for k in ("p50", "p90", "p99", "max"))),
        ("exact duplicates", f"{_value(exact.get('count'))} ({_value((exact.get('rate') or 0) * 100, ' %')})"),
    ]
    if normalised:
        rate = (normalised.get("rate") or 0) * 100
        pairs.append(("normalised duplicates", f"{_value(normalised.get('count'))} ({_value(rate, ' %')})"))
    pairs += _quality_pairs(dataset.get("quality"))
    warnings = "".join(f"<li>{html.escape(str(w))}</li>" for w in dataset.get("warnings") or [])
    title = html.escape(str(dataset.get("role") or "dataset"))
    return f"<h3>{title}</h3><table>{_rows(pairs)}</table>" + (f"<ul class=warn>{warnings}</ul>" if warnings else "")


_STYLE = """
body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
h1{font-size:1.6rem;margin-bottom:.2rem} h2{margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5rem 0} th,td{text-align:left;padding:.2rem .8rem .2rem 0;vertical-align:top}
th{font-weight:600;color:#555} .muted{color:#999} img{max-width:100%;border:1px solid #eee;margin:.5rem 0}
pre{background:#f6f8fa;padding:.8rem;overflow:auto;font-size:13px} .warn{color:#9a6700}
.status{display:inline-block;padding:.1rem .6rem;border-radius:1rem;color:#fff;font-weight:600}
.SUCCEEDED{background:#1a7f37} .FAILED,.ABORTED,.TIMED_OUT{background:#cf222e} .RUNNING{background:#0969da}
"""


def fetch_run(s3: Any, archive_bucket: str, run_id: str, folder: Path) -> tuple[dict[str, Any], TrainingMetrics]:
    """The report data and the TensorBoard metrics of an archived run (event files are copied into `folder`)."""
    from novacpt.run_report import REPORT_FILE, report_data
    from novacpt_cli.errors import CliError
    from novacpt_cli.watch import sync_event_files

    root = f"runs/{run_id}/"
    record = _get_json(s3, archive_bucket, root + "run.json")
    if record is None:
        raise CliError(
            f"run {run_id} has no run.json in s3://{archive_bucket}/{root}: it is still running "
            f"(cpt watch {run_id}) or the name is not a run's (cpt runs lists them)"
        )
    data = _get_json(s3, archive_bucket, root + REPORT_FILE)
    if data is None:  # archived before the pipeline wrote report.json: build it here
        reports = {}
        for dataset in record.get("datasets") or []:
            uri = str(dataset.get("report_uri") or "")
            if uri.startswith(f"s3://{archive_bucket}/"):
                key, version = uri[len(f"s3://{archive_bucket}/") :], dataset.get("report_version_id")
                found = _get_json(s3, archive_bucket, key, version if isinstance(version, str) else None)
                if found is not None:
                    reports[str(dataset.get("role"))] = found
        data = report_data(record, reports)
    events = folder / "tensorboard"
    events.mkdir(parents=True, exist_ok=True)
    sync_event_files(s3, archive_bucket, root + "outputs/", events, {})
    per_step = data.get("tokens_per_step")
    return data, training_metrics(events, tokens_per_step=per_step if isinstance(per_step, int) else None)


def _get_json(s3: Any, bucket: str, key: str, version_id: str | None = None) -> dict[str, Any] | None:
    try:
        body = s3.get_object(Bucket=bucket, Key=key, **({"VersionId": version_id} if version_id else {}))["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None
    value = json.loads(body)
    return value if isinstance(value, dict) else None


def render_report(data: dict[str, Any], metrics: TrainingMetrics, out: Path) -> Path:
    """Write the charts and `report.html` into `out`; return the page's path."""
    out.mkdir(parents=True, exist_ok=True)
    charts = [
        ("Loss", loss_chart(metrics, out / "loss.png")),
        ("Throughput", throughput_chart(metrics.throughput, out / "throughput.png")),
        ("Hours and cost", hours_chart(data, out / "hours.png")),
        ("Dataset lengths", lengths_chart(data.get("datasets") or [], out / "lengths.png")),
        ("Languages", languages_chart(data.get("datasets") or [], out / "languages.png")),
    ]
    status = str(data.get("status") or "UNKNOWN")
    estimate, actual = data.get("estimate") or {}, data.get("actual") or {}
    summary = [
        ("status", f"<span class='status {html.escape(status)}'>{html.escape(status)}</span>"),
        ("job", _value(data.get("job_name"))),
        ("model", f"{_value(data.get('model_type'))} on {_value(data.get('replicas'))} instances"),
        ("steps", _steps(metrics.step, data.get("total_steps"))),
        ("final training loss", _value(metrics.train_loss.last() if metrics.train_loss else None)),
        ("final validation loss", _value(metrics.validation_loss.last() if metrics.validation_loss else None)),
        ("hours: estimate / actual", f"{_value(estimate.get('hours'))} / {_value(actual.get('hours'))}"),
        (
            "instance-hours: estimate / actual",
            f"{_value(estimate.get('instance_hours'))} / {_value(actual.get('instance_hours'))}",
        ),
        ("cost (USD): estimate / actual", f"{_value(estimate.get('cost_usd'))} / {_value(actual.get('cost_usd'))}"),
    ]
    checkpoint = data.get("checkpoint")
    next_run = (
        f"<p>Continue from this run's checkpoint: set <code>run.model_name_or_path: "
        f"{html.escape(str(checkpoint))}</code> in the next recipe.</p>"
        if checkpoint
        else "<p class=muted>No checkpoint: the run did not finish training.</p>"
    )
    error = data.get("error")
    parts = [
        f"<!doctype html><html lang=en><meta charset=utf-8><title>Run {html.escape(str(data.get('run_id')))}</title>",
        f"<style>{_STYLE}</style><h1>Run {html.escape(str(data.get('run_id')))}</h1>",
        f"<table>{_rows(summary)}</table>",
        f"<h2>What comes next</h2>{next_run}",
    ]
    if error:
        parts.append(f"<h2>Error</h2><pre>{html.escape(json.dumps(error, indent=2, ensure_ascii=True))}</pre>")
    parts += [f"<h2>{title}</h2><img src='{path.name}' alt='{title}'>" for title, path in charts if path is not None]
    if metrics.train_loss is None:
        parts.append("<p class=muted>No training curves: no TensorBoard scalars were found for this run.</p>")
    parts.append("<h2>Datasets</h2>" + "".join(_dataset_section(d) for d in data.get("datasets") or []))
    recipe = data.get("recipe_as_run")
    if recipe:
        text = yaml.safe_dump(recipe, sort_keys=False, allow_unicode=False)
        parts.append(f"<h2>Recipe as run</h2><pre>{html.escape(text)}</pre>")
    page = out / REPORT_PAGE
    page.write_text("\n".join(parts) + "\n", encoding="utf-8", errors="backslashreplace")
    return page
