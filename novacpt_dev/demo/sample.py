"""The demo's sample dataset: short pharmaceutical-domain notes, generated deterministically."""

from __future__ import annotations

import json
import random
from pathlib import Path

_SUBJECTS = (
    "The phase II trial",
    "The stability study",
    "The pharmacovigilance review",
    "The dose-finding cohort",
    "The bioequivalence study",
    "The manufacturing batch record",
    "The clinical protocol amendment",
)
_FINDINGS = (
    "reported a lower incidence of grade 3 adverse events than the comparator arm",
    "showed that the tablet retains 98% potency after 24 months at 25 °C and 60% relative humidity",
    "identified hepatic enzyme elevation as a signal requiring a label update",
    "established 40 mg twice daily as the recommended phase III dose",
    "met the 80 to 125% confidence interval for AUC and Cmax",
    "documented a deviation in granulation moisture that was investigated and closed",
    "extended the inclusion criteria to patients with moderate renal impairment",
)
_CONTEXT = (
    "under GCP monitoring",
    "according to the statistical analysis plan",
    "after database lock",
    "in line with ICH Q1A guidance",
    "as reviewed by the data safety monitoring board",
)


def sample_texts(records: int = 240, seed: int = 17) -> list[str]:
    """Distinct domain sentences (two or three findings each)."""
    rng = random.Random(seed)
    texts = []
    for i in range(records):
        parts = [f"Note {i + 1}: {rng.choice(_SUBJECTS)} {rng.choice(_FINDINGS)} {rng.choice(_CONTEXT)}."]
        parts += [f"It also {rng.choice(_FINDINGS)}." for _ in range(rng.randint(1, 2))]
        texts.append(" ".join(parts))
    return texts


def write_sample_dataset(path: Path, records: int = 240, seed: int = 17) -> Path:
    """Write the sample as CPT JSONL (one {"text": ...} object a line)."""
    path.write_text("".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in sample_texts(records, seed)))
    return path
