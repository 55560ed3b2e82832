"""Corpus quality beyond the format: near-duplicates, languages, mojibake and validation overlap.

A pass over a stream (a file, or one shard of it) leaves a QualitySketch: per-record LSH band keys and
text hashes as (key, line) rows, language counts and mojibake lines. Sketches of consecutive shards
merge exactly (rows are split into key partitions, as the exact-duplicate hashes are), and
`quality_report` turns them into the typed QualityReport that `cpt validate-dataset --quality` prints.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import orjson
from pydantic import BaseModel, ConfigDict, Field

from novacpt.dataset.codes import WarningCode
from novacpt.dataset.language import SAMPLE_BYTES, languages_of
from novacpt.dataset.mojibake import mojibake_in
from novacpt.dataset.near import Lines, Rows, clusters, edges, overlapping, rows
from novacpt.dataset.report import DatasetWarning
from novacpt.dataset.scan import Readable
from novacpt.dataset.sharded import ROW
from novacpt.dataset.shingles import THRESHOLD, band_keys
from novacpt.dataset.text_hash import utf8_hashes
from novacpt.kernel.settings import QualityBounds

MAX_LISTED: Final = 1000
# Languages: of every record of a stream (a file or a shard) up to LANGUAGE_ALL, then of one in LANGUAGE_STRIDE.
LANGUAGE_ALL: Final = 1_000
LANGUAGE_STRIDE: Final = 4
LANGUAGE_BATCH: Final = 256  # samples classified together (py3langid's automaton walks them at once)
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

    def headline(self) -> dict[str, Any]:
        """The figures without the line lists: for the run's state, notification and run record."""
        return self.model_dump(
            mode="json", exclude_none=True, exclude={"near_duplicates": {"clusters"}, "mojibake": {"lines"}}
        ) | (
            {"validation_overlap": self.validation_overlap.model_dump(exclude={"lines"})}
            if self.validation_overlap is not None
            else {}
        )

    def over(self, bounds: QualityBounds) -> list[str]:
        """One located line for each figure over its bound (the cdk.json key to change named)."""
        found = []
        near, mojibake, overlap = self.near_duplicates, self.mojibake, self.validation_overlap
        if bounds.max_near_duplicate_rate is not None and near.rate > bounds.max_near_duplicate_rate:
            groups = "; ".join(", ".join(map(str, g[:5])) for g in near.clusters[:3])
            found.append(
                f"near-duplicate rate {near.rate:.2%} is over max_near_duplicate_rate "
                f"{bounds.max_near_duplicate_rate:g} (first groups of lines: {groups})"
            )
        if bounds.max_mojibake_rate is not None and mojibake.rate > bounds.max_mojibake_rate:
            found.append(
                f"mojibake rate {mojibake.rate:.2%} is over max_mojibake_rate {bounds.max_mojibake_rate:g} "
                f"(first lines: {', '.join(map(str, mojibake.lines[:10]))})"
            )
        if bounds.max_validation_overlap is not None and overlap is not None:
            copies = overlap.exact + overlap.near
            if copies > bounds.max_validation_overlap:
                found.append(
                    f"{copies} validation records copy training records ({overlap.exact} exact, {overlap.near} "
                    f"near), over max_validation_overlap {bounds.max_validation_overlap} "
                    f"(first validation lines: {', '.join(map(str, overlap.lines[:10]))})"
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

    def summary(self) -> dict[str, Any]:
        """The JSON-able part (everything but the rows)."""
        return {
            "lines": self.lines,
            "records": self.records,
            "languages": dict(self.languages),
            "mojibake": self.mojibake,
            "mojibake_lines": self.mojibake_lines,
        }

    @classmethod
    def of_summary(cls, summary: dict[str, Any]) -> QualitySketch:
        """A sketch without rows, from its summary (its rows are merged elsewhere)."""
        return cls(
            lines=int(summary["lines"]),
            records=int(summary["records"]),
            languages=Counter({str(k): int(v) for k, v in summary["languages"].items()}),
            mojibake=int(summary["mojibake"]),
            mojibake_lines=[int(line) for line in summary["mojibake_lines"]],
        )


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
        self._samples: list[bytes] = []  # first bytes of the records whose language is still to identify

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
        first = sketch.records
        sketch.records += len(texts)
        encoded = [t.encode("utf-8") for t in texts]
        self._bands.append(rows(band_keys(texts, encoded), lines))
        hashes = utf8_hashes(encoded)
        self._exact.append(rows(hashes, lines))
        self._samples += [
            e[:SAMPLE_BYTES] for i, e in enumerate(encoded, start=first) if i < LANGUAGE_ALL or i % LANGUAGE_STRIDE == 0
        ]
        if len(self._samples) >= LANGUAGE_BATCH:
            self._identify()
        bad = mojibake_in(texts, encoded)
        sketch.mojibake += len(bad)
        room = MAX_LISTED - len(sketch.mojibake_lines)
        sketch.mojibake_lines.extend(int(lines[i]) for i in bad[:room])
        self._texts, self._lines, self._bytes = [], [], 0

    def _identify(self) -> None:
        self.sketch.languages.update(languages_of(self._samples))
        self._samples = []

    def finish(self, lines: int) -> QualitySketch:
        """The sketch of a stream of `lines` lines."""
        self._flush()
        self._identify()
        self.sketch.lines = lines
        self.sketch.bands = np.concatenate(self._bands) if self._bands else self.sketch.bands
        self.sketch.exact = np.concatenate(self._exact) if self._exact else self.sketch.exact
        return self.sketch


class QualityFeeder:
    """Splits a byte stream's chunks into lines and feeds their records to a QualityScanner."""

    def __init__(self) -> None:
        self._scanner = QualityScanner()
        self._carry = b""
        self._lines = 0

    def feed(self, chunk: bytes) -> None:
        """The next bytes of the stream."""
        parts = (self._carry + chunk).split(b"\n")
        self._carry = parts.pop()
        for line in parts:
            self._take(line)

    def _take(self, line: bytes) -> None:
        text = record_text(line)
        if text is not None:
            self._scanner.add(self._lines, text)
        self._lines += 1

    def finish(self) -> QualitySketch:
        """The sketch of everything fed (a last line without a newline counts)."""
        if self._carry:
            self._take(self._carry)
            self._carry = b""
        return self._scanner.finish(self._lines)


class Tee:
    """A stream that hands every chunk it reads to `sink` too: one read serves two passes."""

    def __init__(self, source: Readable, sink: Callable[[bytes], None]) -> None:
        self._source = source
        self._sink = sink

    def read(self, size: int = -1, /) -> bytes:
        """Up to `size` bytes of the source, also given to the sink."""
        chunk = self._source.read(size)
        if chunk:
            self._sink(chunk)
        return chunk


def record_text(line: bytes) -> str | None:
    """The text of a line that holds a record (an object whose one key is a non-blank string `text`), else None."""
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    text = value.get("text") if isinstance(value, dict) and len(value) == 1 else None
    return text if isinstance(text, str) and text.strip() else None


def sketch_stream(stream: Readable) -> QualitySketch:
    """One pass over a JSONL stream; lines without a record are skipped (the format check reports them)."""
    feeder = QualityFeeder()
    while chunk := stream.read(READ_BYTES):
        feeder.feed(chunk)
    return feeder.finish()


def offset_rows(table: Rows, by: int) -> Rows:
    """Rows of a shard whose first line is line `by + 1` of the file: 0-based local lines -> 1-based file lines."""
    shifted = table.copy()
    shifted["line"] += by + 1
    return shifted


def partition_edges(shards: Sequence[tuple[int, Rows]]) -> tuple[Lines, Lines]:
    """Near-copy edges within one key partition; `shards` are (first line - 1, band rows), in file order."""
    if not shards:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return edges(np.concatenate([offset_rows(table, by) for by, table in shards]))


def partition_overlap(training: Sequence[tuple[int, Rows]], validation: Sequence[tuple[int, Rows]]) -> Lines:
    """Validation lines (1-based) whose key is among the training rows' keys, within one key partition."""
    if not validation:
        return np.zeros(0, dtype=np.int64)
    return overlapping([t for _, t in training], np.concatenate([offset_rows(v, by) for by, v in validation]))


@dataclass(frozen=True, slots=True)
class Tally:
    """The additive part of the sketches of one file's shards (everything but the rows)."""

    records: int
    languages: Counter[str]
    mojibake: int
    mojibake_lines: list[int]  # 1-based, the first MAX_LISTED

    @classmethod
    def of(cls, sketches: Sequence[tuple[int, QualitySketch]]) -> Tally:
        """From (first line - 1, sketch) of consecutive shards, in file order."""
        languages: Counter[str] = Counter()
        lines: list[int] = []
        for by, sketch in sketches:
            languages.update(sketch.languages)
            lines.extend(line + by + 1 for line in sketch.mojibake_lines)
        return cls(
            sum(s.records for _, s in sketches), languages, sum(s.mojibake for _, s in sketches), lines[:MAX_LISTED]
        )


def _rate(count: int, records: int) -> float:
    return round(count / records, 6) if records else 0.0


def build_quality(
    tally: Tally,
    edge_parts: Iterable[tuple[Lines, Lines]],
    overlap: tuple[Lines, Lines] | None = None,
) -> QualityReport:
    """The report from the tally, the near-copy edges of every partition and the (exact, near) overlap lines."""
    found = clusters(edge_parts)
    records = tally.records
    ranked = sorted(tally.languages.items(), key=lambda kv: (-kv[1], kv[0]))
    identified = sum(tally.languages.values()) or 1  # every record, or a sample of a large stream's
    validation = None
    if overlap is not None:
        exact, near = np.unique(overlap[0]), np.unique(overlap[1])
        validation = ValidationOverlap(
            exact=int(exact.size),
            near=int(np.setdiff1d(near, exact).size),
            lines=np.union1d(exact, near)[:MAX_LISTED].tolist(),
        )
    return QualityReport(
        records=records,
        near_duplicates=NearDuplicates(
            rate=_rate(found.copies, records), count=found.copies, clusters=found.groups[:MAX_LISTED]
        ),
        languages={code: round(n / identified, 4) for code, n in ranked},
        mojibake=Mojibake(count=tally.mojibake, rate=_rate(tally.mojibake, records), lines=tally.mojibake_lines),
        validation_overlap=validation,
    )


def quality_report(
    training: Sequence[QualitySketch], validation: Sequence[QualitySketch] | None = None, partitions: int = 1
) -> QualityReport:
    """The report of consecutive shards' sketches (one for a single pass), merged in `partitions` key partitions."""

    def placed(sketches: Sequence[QualitySketch]) -> list[tuple[int, QualitySketch]]:
        offsets = np.cumsum([0, *(s.lines for s in sketches)])[:-1].tolist()
        return list(zip(offsets, sketches, strict=True))

    train = placed(training)
    split = [(by, sketch.partitioned(partitions)) for by, sketch in train]
    edge_parts = [partition_edges([(by, parts[0][p]) for by, parts in split]) for p in range(partitions)]
    overlap = None
    if validation is not None:
        checked = [(by, sketch.partitioned(partitions)) for by, sketch in placed(validation)]
        exact, near = [], []
        for p in range(partitions):
            exact.append(partition_overlap([(by, t[1][p]) for by, t in split], [(by, v[1][p]) for by, v in checked]))
            near.append(partition_overlap([(by, t[0][p]) for by, t in split], [(by, v[0][p]) for by, v in checked]))
        overlap = (np.concatenate(exact), np.concatenate(near))
    return build_quality(Tally.of(train), edge_parts, overlap)


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
    checked = [sketch_stream(validation)] if validation is not None else None
    return quality_report([sketch_stream(stream)], checked)
