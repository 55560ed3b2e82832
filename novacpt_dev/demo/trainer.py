"""A simulated trainer: what a finished Nova CPT job leaves in its output path.

The TensorBoard curves imitate a Lite run on 16 P5 instances (global batch 256 x 8192 tokens, about
37 s a step): a loss that falls fast and then flattens, with step-to-step noise and the odd spike,
a validation loss every 50 steps, warm-up then cosine decay of the learning rate, and throughput
with a few percent of jitter. Wall times are spread as if the job had run that long.
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from tensorboardX import SummaryWriter

from novacpt.kernel.s3uri import split_s3_uri

STEPS = 400
SECONDS_PER_STEP = 36.9
TOKENS_PER_STEP = 256 * 8192
VALIDATION_EVERY = 50


def simulated_curves(steps: int = STEPS, seed: int = 7) -> dict[str, list[tuple[int, float, float]]]:
    """(step, value, wall time) of each tag: train/loss, val/loss, train/learning_rate, train/tokens_per_second."""
    rng = np.random.default_rng(seed)
    durations = SECONDS_PER_STEP * (1 + rng.normal(0, 0.03, steps)).clip(0.8, 1.3)
    walls = time.time() - durations[::-1].cumsum()[::-1]
    noise = np.zeros(steps)
    for i in range(1, steps):  # correlated noise, as mini-batch losses are
        noise[i] = 0.6 * noise[i - 1] + rng.normal(0, 0.03)
    spikes = (rng.random(steps) < 0.012) * rng.uniform(0.08, 0.2, steps)
    s = list(range(steps))
    x = np.arange(steps)
    trend = 1.55 + 0.9 * np.exp(-x / 70) + 0.25 * np.exp(-x / 8)
    lr = np.where(x < 10, 1e-5 * (x + 1) / 10, 1e-6 + 0.5 * (1e-5 - 1e-6) * (1 + np.cos(math.pi * x / steps)))
    curves: dict[str, list[tuple[int, float, float]]] = {
        "train/loss": [(i, float(trend[i] + noise[i] + spikes[i]), float(walls[i])) for i in s],
        "train/learning_rate": [(i, float(lr[i]), float(walls[i])) for i in s],
        "train/tokens_per_second": [(i, float(TOKENS_PER_STEP / durations[i]), float(walls[i])) for i in s],
    }
    checks = [i for i in s if (i + 1) % VALIDATION_EVERY == 0]
    curves["val/loss"] = [(i, float(trend[i] + 0.035 + rng.normal(0, 0.006)), float(walls[i])) for i in checks]
    return curves


def write_training_outputs(s3: Any, output_s3_path: str, job_name: str, account: str, *, steps: int = STEPS) -> str:
    """Write `<output>/<job>/manifest.json` and a real TensorBoard event file; return the checkpoint path."""
    bucket, prefix = split_s3_uri(output_s3_path.rstrip("/"))
    root = f"{prefix}/{job_name}" if prefix else job_name
    checkpoint = f"s3://customer-escrow-{account}-demo/{job_name}/checkpoints/final/"
    with tempfile.TemporaryDirectory() as folder:
        writer = SummaryWriter(logdir=folder)
        for tag, points in simulated_curves(steps).items():
            for step, value, wall in points:
                writer.add_scalar(tag, value, step, walltime=wall)
        writer.close()
        for event_file in Path(folder).glob("events.out.tfevents.*"):
            s3.put_object(Bucket=bucket, Key=f"{root}/tensorboard/{event_file.name}", Body=event_file.read_bytes())
    manifest = {"checkpoint_s3_bucket": checkpoint, "job_name": job_name, "simulated": True}
    s3.put_object(Bucket=bucket, Key=f"{root}/manifest.json", Body=json.dumps(manifest).encode())
    return checkpoint
