"""Training progress from the TensorBoard event files a job writes: loss, throughput, step and ETA.

Event files are read with TensorBoard's own event multiplexer (every folder below the root is a run).
Nova's images are closed, so scalar tags are matched by name against the common spellings (NeMo's
`reduced_train_loss`, `val_loss`, `train_step_timing in s`; `train/loss` ...). Throughput is the
tokens-per-second tag when there is one, else global batch size x max_length per step time (CPT packs
documents into full sequences).
"""

from __future__ import annotations

import itertools
import math
import re
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TRAIN_LOSS = ("train/loss", "reduced_train_loss", "train_loss", "train/reduced_train_loss", "loss", "training/loss")
VALIDATION_LOSS = ("val/loss", "val_loss", "validation/loss", "validation_loss", "eval/loss", "val/reduced_loss")
TOKENS_PER_SECOND = ("train/tokens_per_second", "tokens_per_second", "tokens_per_sec", "throughput/tokens_per_sec")
STEP_SECONDS = ("train_step_timing in s", "train/step_time", "step_time", "train/step_seconds")
LEARNING_RATE = ("train/learning_rate", "learning_rate", "lr")
_RECENT = 20  # steps whose median duration the ETA uses


@dataclass(frozen=True)
class Series:
    """One scalar over steps (sorted by step; the last write of a step wins)."""

    tag: str
    steps: list[int]
    values: list[float]
    wall_times: list[float]

    def last(self) -> float | None:
        """The latest value, if any."""
        return self.values[-1] if self.values else None


@dataclass(frozen=True)
class TrainingMetrics:
    """What the charts and the watch display need."""

    train_loss: Series | None = None
    validation_loss: Series | None = None
    throughput: Series | None = None
    learning_rate: Series | None = None
    tags: list[str] = field(default_factory=list)

    @property
    def step(self) -> int | None:
        """Steps done: the latest step logged, counted from 1 (a log that starts at step 0 is 0-based)."""
        if not (self.train_loss and self.train_loss.steps):
            return None
        steps = self.train_loss.steps
        return steps[-1] + 1 if steps[0] == 0 else steps[-1]

    def seconds_per_step(self) -> float | None:
        """Median wall time of the recent steps, from the training loss's timestamps."""
        series = self.train_loss
        if series is None or len(series.steps) < 2:
            return None
        pairs = list(zip(series.steps, series.wall_times, strict=True))[-(_RECENT + 1) :]
        rates = [(t2 - t1) / (s2 - s1) for (s1, t1), (s2, t2) in itertools.pairwise(pairs) if s2 > s1]
        return statistics.median(rates) if rates else None

    def eta_seconds(self, total_steps: int | None) -> float | None:
        """Seconds left to `total_steps` at the recent pace, or None when not known."""
        per_step, step = self.seconds_per_step(), self.step
        if total_steps is None or per_step is None or step is None:
            return None
        return max(0.0, (total_steps - step) * per_step)


def _normal(tag: str) -> str:
    return re.sub(r"[\s_\-]+", "_", tag.strip().lower())


def _pick(scalars: dict[str, Series], names: tuple[str, ...]) -> Series | None:
    """The first tag matching one of `names` (by normalised name, also as the last part of a run/tag path)."""
    by_name: dict[str, Series] = {}
    for tag, series in scalars.items():
        by_name.setdefault(_normal(tag), series)
        by_name.setdefault(_normal(tag.split("/", 1)[-1]) if tag.count("/") > 1 else _normal(tag), series)
    for name in names:
        if (found := by_name.get(_normal(name))) is not None:
            return found
    return None


def read_scalars(root: Path) -> dict[str, Series]:
    """Every scalar of every event file under `root`, keyed `tag` (top folder) or `run/tag` (sub-folders)."""
    from tensorboard.backend.event_processing import event_accumulator
    from tensorboard.backend.event_processing.event_multiplexer import EventMultiplexer

    multiplexer = EventMultiplexer(size_guidance={event_accumulator.SCALARS: 0}).AddRunsFromDirectory(str(root))
    multiplexer.Reload()
    found: dict[str, Series] = {}
    for run, tags in sorted(multiplexer.Runs().items()):
        for tag in tags.get(event_accumulator.SCALARS, []):
            by_step = {e.step: (float(e.value), float(e.wall_time)) for e in multiplexer.Scalars(run, tag)}
            steps = sorted(s for s, (v, _) in by_step.items() if math.isfinite(v))
            key = tag if run in (".", "") else f"{run}/{tag}"
            found[key] = Series(key, steps, [by_step[s][0] for s in steps], [by_step[s][1] for s in steps])
    return found


def training_metrics(root: Path, *, tokens_per_step: int | None = None) -> TrainingMetrics:
    """Loss, validation loss, throughput and learning rate from the event files under `root`."""
    scalars = read_scalars(root) if root.is_dir() else {}
    throughput = _pick(scalars, TOKENS_PER_SECOND)
    step_seconds = _pick(scalars, STEP_SECONDS)
    train = _pick(scalars, TRAIN_LOSS)
    if throughput is None and tokens_per_step:
        throughput = _derived_throughput(step_seconds, train, tokens_per_step)
    return TrainingMetrics(
        train_loss=train,
        validation_loss=_pick(scalars, VALIDATION_LOSS),
        throughput=throughput,
        learning_rate=_pick(scalars, LEARNING_RATE),
        tags=sorted(scalars),
    )


def _derived_throughput(step_seconds: Series | None, train: Series | None, tokens_per_step: int) -> Series | None:
    """Tokens per second from a step-time tag, or from the wall time between logged training steps."""
    if step_seconds is not None and step_seconds.values:
        pairs = [(s, v, t) for s, v, t in zip(*_columns(step_seconds), strict=True) if v > 0]
        return Series(
            "tokens_per_second (derived)",
            [s for s, _, _ in pairs],
            [tokens_per_step / v for _, v, _ in pairs],
            [t for _, _, t in pairs],
        )
    if train is None or len(train.steps) < 2:
        return None
    steps, values, times = [], [], []
    for (s1, t1), (s2, t2) in zip(
        zip(train.steps, train.wall_times, strict=True),
        zip(train.steps[1:], train.wall_times[1:], strict=True),
        strict=True,
    ):
        if s2 > s1 and t2 > t1:
            steps.append(s2)
            values.append(tokens_per_step * (s2 - s1) / (t2 - t1))
            times.append(t2)
    return Series("tokens_per_second (derived)", steps, values, times) if steps else None


def _columns(series: Series) -> tuple[list[int], list[float], list[float]]:
    return series.steps, series.values, series.wall_times


def summary(metrics: TrainingMetrics, total_steps: int | None) -> dict[str, Any]:
    """The watch line as a JSON-ready dict (None for what is not known yet)."""
    eta = metrics.eta_seconds(total_steps)
    return {
        "step": metrics.step,
        "total_steps": total_steps,
        "loss": metrics.train_loss.last() if metrics.train_loss else None,
        "validation_loss": metrics.validation_loss.last() if metrics.validation_loss else None,
        "tokens_per_second": metrics.throughput.last() if metrics.throughput else None,
        "seconds_per_step": metrics.seconds_per_step(),
        "eta_seconds": None if eta is None else round(eta, 1),
    }
