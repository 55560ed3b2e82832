"""Corpus quality beyond the format: near-duplicates, languages, mojibake and validation overlap.

A pass over a stream (a file, or one shard of it) leaves a QualitySketch: per-record LSH band keys and
text hashes as (key, line) rows, language counts and mojibake lines. Sketches of consecutive shards
merge exactly (rows are split into key partitions, as the exact-duplicate hashes are), and
`quality_report` turns them into the typed QualityReport that `cpt validate-dataset --quality` prints.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import numpy.typing as npt
import orjson
from pydantic import BaseModel, ConfigDict, Field

from novacpt.dataset.codes import WarningCode
from novacpt.dataset.language import languages_of
from novacpt.dataset.mojibake import mojibake_in
from novacpt.dataset.near import Rows, clusters, edges, overlapping, rows
from novacpt.dataset.report import DatasetWarning
from novacpt.dataset.scan import Readable
from novacpt.dataset.sharded import ROW
from novacpt.dataset.shingles import THRESHOLD, band_keys
from novacpt.dataset.text_hash import hash_bytes, quoted

MAX_LISTED: Final = 1000
NEAR_DUPLICATE_WARNING: Final = 0.05
BATCH_BYTES: Final = 128 << 10  # text bytes shingled together: the numpy arrays stay in the CPU cache
READ_BYTES: Final = 4 << 20


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class NearDuplicates(_Model):
    """Records that are a near copy of an earlier record (estimated Jaccard similarity >= threshold)."""

    rate: float = Field(description="share of records that are a near copy of an earlier record")
    count: int
    threshold: float = THRESHOLD
    clusters: list[list[int]] = Field(description=f"1-based lines of each group of near copies (first {MAX_LISTED})")


class Mojibake(_Model):
    """Records whose text shows another encoding's decoding (ftfy's detector)."""

    count: int
    rate: float
    lines: list[int] = Field(description=f"first {MAX_LISTED} lines")


class ValidationOverlap(_Model):
    """Validation records that are copies of training records: `exact`, and `near` (not exact)."""

    exact: int
    near: int
    lines: list[int] = Field(description=f"validation lines that are exact or near copies (first {MAX_LISTED})")


class QualityReport(_Model):
    """The `quality` object of a dataset report."""

    records: int
    near_duplicates: NearDuplicates
    languages: dict[str, float] = Field(description="share of records per language code, largest first")
    mojibake: Mojibake
    validation_overlap: ValidationOverlap | None = None

    def warnings(self, expected: dict[str, float] | None = None) -> list[DatasetWarning]:
        """Warnings of the figures: near-duplicate rate, overlap, mojibake, languages under a declared share."""
        found = []
        near = self.near_duplicates
        if near.rate > NEAR_DUPLICATE_WARNING:
            found.append(
                DatasetWarning(
                    WarningCode.NEAR_DUPLICATE_RATE,
                    f"{near.count} of {self.records} records ({near.rate:.1%}) are near copies of an earlier record "
                    f"(over {NEAR_DUPLICATE_WARNING:.0%}, Jaccard >= {near.threshold:g}): deduplicate",
                )
            )
        overlap = self.validation_overlap
        if overlap is not None and (overlap.exact or overlap.near):
            found.append(
                DatasetWarning(
                    WarningCode.VALIDATION_OVERLAP,
                    f"{overlap.exact} validation records are exact and {overlap.near} near copies of training "
                    f"records (first lines {overlap.lines[:5]}): validation figures would be meaningless",
                )
            )
        if self.mojibake.count:
            found.append(
                DatasetWarning(
                    WarningCode.MOJIBAKE,
                    f"{self.mojibake.count} records show text decoded with the wrong encoding "
                    f"(first lines {self.mojibake.lines[:5]}): fix the encoding, for example with ftfy.fix_text",
                )
            )
        for language, share in (expected or {}).items():
            have = self.languages.get(language, 0.0)
            if have < share:
                found.append(
                    DatasetWarning(
                        WarningCode.LANGUAGE_SHARE,
                        f"language {language!r} holds {have:.1%} of the records, less than the {share:.0%} expected",
                    )
                )
        return found


@dataclass(slots=True)
class QualitySketch:
    """What one pass over a stream leaves for the merge; lines are 0-based within the stream."""

    lines: int = 0
    records: int = 0
    bands: Rows = field(default_factory=lambda: np.zeros(0, dtype=ROW))
    exact: Rows = field(default_factory=lambda: np.zeros(0, dtype=ROW))
    languages: Counter[str] = field(default_factory=Counter)
    mojibake: int = 0
    mojibake_lines: list[int] = field(default_factory=list)

    def partitioned(self, partitions: int) -> tuple[list[Rows], list[Rows]]:
        """(band rows, text-hash rows) split by `key % partitions`, for a merge elsewhere."""
        return _split(self.bands, partitions), _split(self.exact, partitions)


def _split(table: Rows, partitions: int) -> list[Rows]:
    key = table["hash"] % np.uint64(partitions)
    return [table[key == p] for p in range(partitions)]


class QualityScanner:
    """Feeds records, a batch at a time, into a QualitySketch."""

    def __init__(self) -> None:
        self.sketch = QualitySketch()
        self._texts: list[str] = []
        self._lines: list[int] = []
        self._bytes = 0
        self._bands: list[Rows] = []
        self._exact: list[Rows] = []

    def add(self, line: int, text: str) -> None:
        """A record's text on 0-based `line` (lines in increasing order)."""
        self._texts.append(text)
        self._lines.append(line)
        self._bytes += len(text)
        if self._bytes >= BATCH_BYTES:
            self._flush()

    def _flush(self) -> None:
        texts, lines = self._texts, np.asarray(self._lines, dtype=np.int64)
        if not texts:
            return
        sketch = self.sketch
        sketch.records += len(texts)
        encoded = [t.encode("utf-8") for t in texts]
        self._bands.append(rows(band_keys(texts, encoded), lines))
        hashes = np.fromiter((hash_bytes(quoted(e)) or 1 for e in encoded), dtype=np.uint64, count=len(texts))
        self._exact.append(rows(hashes, lines))
        sketch.languages.update(languages_of(texts))
        bad = mojibake_in(texts)
        sketch.mojibake += len(bad)
        room = MAX_LISTED - len(sketch.mojibake_lines)
        sketch.mojibake_lines.extend(int(lines[i]) for i in bad[:room])
        self._texts, self._lines, self._bytes = [], [], 0

    def finish(self, lines: int) -> QualitySketch:
        """The sketch of a stream of `lines` lines."""
        self._flush()
        self.sketch.lines = lines
        self.sketch.bands = np.concatenate(self._bands) if self._bands else self.sketch.bands
        self.sketch.exact = np.concatenate(self._exact) if self._exact else self.sketch.exact
        return self.sketch


def _lines(stream: Readable) -> Iterator[bytes]:
    carry = b""
    while chunk := stream.read(READ_BYTES):
        parts = (carry + chunk).split(b"\n")
        carry = parts.pop()
        yield from parts
    if carry:
        yield carry


def record_text(line: bytes) -> str | None:
    """The text of a line that holds a record (an object with a non-blank string `text`), else None."""
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    text = value.get("text") if isinstance(value, dict) else None
    return text if isinstance(text, str) and text.strip() else None


def sketch_stream(stream: Readable) -> QualitySketch:
    """One pass over a JSONL stream; lines without a record are skipped (the format check reports them)."""
    scanner = QualityScanner()
    count = 0
    for count, line in enumerate(_lines(stream), start=1):
        text = record_text(line)
        if text is not None:
            scanner.add(count - 1, text)
    return scanner.finish(count)


def _offset(table: Rows, by: int) -> Rows:
    shifted = table.copy()
    shifted["line"] += by + 1  # 0-based within the shard -> 1-based within the file
    return shifted


@dataclass(frozen=True, slots=True)
class Merged:
    """Sketches of consecutive shards in key partitions, lines 1-based within the file."""

    lines: int
    records: int
    bands: list[list[Rows]]  # [partition][shard]
    exact: list[list[Rows]]
    languages: Counter[str]
    mojibake: int
    mojibake_lines: list[int]


def merge(sketches: Sequence[QualitySketch], partitions: int = 1) -> Merged:
    """Sketches of consecutive parts of one file, in order, merged (in memory) partition by partition."""
    bands: list[list[Rows]] = [[] for _ in range(partitions)]
    exact: list[list[Rows]] = [[] for _ in range(partitions)]
    languages: Counter[str] = Counter()
    mojibake_lines: list[int] = []
    offset = 0
    for sketch in sketches:
        split_bands, split_exact = sketch.partitioned(partitions)
        for p in range(partitions):
            bands[p].append(_offset(split_bands[p], offset))
            exact[p].append(_offset(split_exact[p], offset))
        languages.update(sketch.languages)
        mojibake_lines.extend(line + offset + 1 for line in sketch.mojibake_lines)
        offset += sketch.lines
    return Merged(
        offset,
        sum(s.records for s in sketches),
        bands,
        exact,
        languages,
        sum(s.mojibake for s in sketches),
        mojibake_lines[:MAX_LISTED],
    )


def _rate(count: int, records: int) -> float:
    return round(count / records, 6) if records else 0.0


def quality_report(training: Merged, validation: Merged | None = None) -> QualityReport:
    """The report from merged sketches (validation partitioned like the training set)."""
    found = clusters(edges(np.concatenate(part)) for part in training.bands)
    records = training.records
    languages = {
        code: round(n / records, 4) for code, n in sorted(training.languages.items(), key=lambda kv: (-kv[1], kv[0]))
    }
    overlap = None
    if validation is not None:
        exact = _union(overlapping(t, np.concatenate(v)) for t, v in zip(training.exact, validation.exact, strict=True))
        near = _union(overlapping(t, np.concatenate(v)) for t, v in zip(training.bands, validation.bands, strict=True))
        near_only = np.setdiff1d(near, exact)
        listed = np.union1d(exact, near)[:MAX_LISTED]
        overlap = ValidationOverlap(exact=int(exact.size), near=int(near_only.size), lines=listed.tolist())
    return QualityReport(
        records=records,
        near_duplicates=NearDuplicates(
            rate=_rate(found.copies, records), count=found.copies, clusters=found.groups[:MAX_LISTED]
        ),
        languages=languages,
        mojibake=Mojibake(
            count=training.mojibake, rate=_rate(training.mojibake, records), lines=training.mojibake_lines
        ),
        validation_overlap=overlap,
    )


def _union(parts: Iterator[npt.NDArray[np.int64]]) -> npt.NDArray[np.int64]:
    found = [p for p in parts if p.size]
    return np.unique(np.concatenate(found)) if found else np.zeros(0, dtype=np.int64)


_LANGUAGE_CODE: Final = re.compile(r"[a-z]{2,3}")


def parse_expected_language(item: str) -> tuple[str, float]:
    """`ja=0.6` -> ("ja", 0.6): a language code and the least share of records it should hold (0 to 1)."""
    code, sep, share = item.partition("=")
    code = code.strip().lower()
    if not sep or not _LANGUAGE_CODE.fullmatch(code):
        raise ValueError("expected CODE=SHARE with a language code such as ja, en or fr: for example ja=0.6")
    try:
        value = float(share)
    except ValueError:
        raise ValueError(f"the share {share.strip()!r} is not a number: give a fraction between 0 and 1") from None
    if not 0 < value <= 1:
        raise ValueError(f"the share {value:g} is outside (0, 1]: give a fraction such as 0.6")
    return code, value


def assess(stream: Readable, validation: Readable | None = None) -> QualityReport:
    """The quality report of one stream (and its validation stream) in a single pass each."""
    merged_validation = merge([sketch_stream(validation)]) if validation is not None else None
    return quality_report(merge([sketch_stream(stream)]), merged_validation)
