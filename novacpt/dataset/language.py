"""Language identification of records: py3langid, whose model ships inside its wheel.

Only the first SAMPLE_BYTES bytes of a record's UTF-8 are read (about 64 Latin or 21 CJK characters:
enough to tell a language; the rest of the record changes no other figure). Nothing is downloaded.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Final

from py3langid.langid import MODEL_FILE, LanguageIdentifier

SAMPLE_BYTES: Final = 64
UNKNOWN: Final = "unknown"


@cache
def _identifier() -> LanguageIdentifier:
    return LanguageIdentifier.from_model_file(MODEL_FILE)


def languages_of(encoded: Sequence[bytes]) -> list[str]:
    """The most likely language code (ISO 639-1 where one exists) of each UTF-8 text's first bytes."""
    classify = _identifier().classify
    found = []
    for data in encoded:
        sample = data[:SAMPLE_BYTES]
        found.append(str(classify(sample)[0]) if sample.strip() else UNKNOWN)
    return found
