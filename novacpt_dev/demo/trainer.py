"""A simulated trainer: what a finished Nova CPT job leaves in its output path."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from tensorboardX import SummaryWriter

from novacpt.kernel.s3uri import split_s3_uri


def write_training_outputs(s3: Any, output_s3_path: str, job_name: str, account: str, *, steps: int = 5) -> str:
    """Write `<output>/<job>/manifest.json` and a real TensorBoard event file; return the checkpoint path."""
    bucket, prefix = split_s3_uri(output_s3_path.rstrip("/"))
    root = f"{prefix}/{job_name}" if prefix else job_name
    checkpoint = f"s3://customer-escrow-{account}-demo/{job_name}/checkpoints/final/"
    with tempfile.TemporaryDirectory() as folder:
        writer = SummaryWriter(logdir=folder)
        for step in range(steps):
            writer.add_scalar("train/loss", 2.5 / (1 + step), step)
            writer.add_scalar("train/learning_rate", 1e-5, step)
        writer.close()
        for event_file in Path(folder).glob("events.out.tfevents.*"):
            s3.put_object(Bucket=bucket, Key=f"{root}/tensorboard/{event_file.name}", Body=event_file.read_bytes())
    manifest = {"checkpoint_s3_bucket": checkpoint, "job_name": job_name, "simulated": True}
    s3.put_object(Bucket=bucket, Key=f"{root}/manifest.json", Body=json.dumps(manifest).encode())
    return checkpoint
