"""Deterministic JSONL corpora for benchmarks: English-like prose with realistic irregularities.

Every record is unique ("Record N:" prefix). About 0.5% of words are non-ASCII (accents, curly
quotes, dashes), every tenth record has a paragraph break ("\\n\\n"), so the fast path meets
escapes, multi-byte UTF-8 and texts that normalisation changes.
"""

from __future__ import annotations

import random
from pathlib import Path

import msgspec

_WORDS = (
    "the of and to in is was for on that with as by at from model data training amazon nova cloud compute learning "
    "continued domain finance pharma clinical regulatory trial dosage revenue quarterly earnings risk portfolio "
    "compliance patient study results analysis market growth"
).split()
_RARE = ["café", "naïve", "résumé", "—", "“quoted”", "données", "über"]


def _paragraph(rng: random.Random, words: int) -> str:
    chosen = (rng.choice(_RARE) if rng.random() < 0.005 else rng.choice(_WORDS) for _ in range(words))
    return " ".join(chosen).capitalize() + "."


def write_corpus(path: Path, *, total_bytes: int, line_chars: int, seed: int = 7) -> int:
    """Write records of about `line_chars` characters until the file reaches `total_bytes`; return records."""
    rng = random.Random(seed)
    pool = [_paragraph(rng, max(3, line_chars // 60)) for _ in range(4000)]
    encode = msgspec.json.Encoder().encode
    written = records = 0
    with open(path, "wb") as out:
        batch: list[bytes] = []
        while written < total_bytes:
            parts = [f"Record {records}:"]
            size = len(parts[0])
            while size < line_chars:
                parts.append(rng.choice(pool))
                size += len(parts[-1]) + 1
            if records % 10 == 0:
                parts.insert(2, "\n\n")
            line = encode({"text": " ".join(parts)}) + b"\n"
            batch.append(line)
            written += len(line)
            records += 1
            if len(batch) >= 4096:
                out.write(b"".join(batch))
                batch.clear()
        out.write(b"".join(batch))
    return records
