"""The drop convention: `jobs/<job>/train.jsonl` [+ `validation.jsonl`], then `jobs/<job>/recipe.yaml`."""

from __future__ import annotations

import re

DROP_PREFIX = "jobs/"
RECIPE_FILE = "recipe.yaml"
TRAIN_FILE = "train.jsonl"
VALIDATION_FILE = "validation.jsonl"
RUNS_PREFIX = "runs/"  # everything the pipeline writes goes here, in the archive bucket, never under jobs/

_JOB = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def drop_job(key: str) -> str | None:
    """The job folder of a `jobs/<job>/recipe.yaml` key, or None for any other key."""
    parts = key.split("/")
    if len(parts) == 3 and parts[0] + "/" == DROP_PREFIX and parts[2] == RECIPE_FILE and _JOB.fullmatch(parts[1]):
        return parts[1]
    return None


def run_prefix(run_id: str) -> str:
    """Archive prefix of one execution's records."""
    return f"{RUNS_PREFIX}{run_id}/"
