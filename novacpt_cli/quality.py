"""`cpt validate-dataset --quality`: the corpus-quality pass, its options and its short table."""

from __future__ import annotations

from pathlib import Path

import typer

from novacpt.dataset import DatasetReport
from novacpt.dataset.quality import (
    QualityReport,
    QualitySketch,
    parse_expected_language,
    quality_report,
    sketch_stream,
)
from novacpt_cli.common import parse_pairs
from novacpt_cli.errors import CliError, regular_file
from novacpt_cli.progress import open_with_progress


def expected_languages(items: list[str] | None) -> dict[str, float]:
    """`--expect-language ja=0.6` options as {code: share} (exit 2 on a malformed one)."""
    return parse_pairs("--expect-language", items, parse_expected_language)


def check_options(quality: bool, validation: Path | None, expected: dict[str, float]) -> None:
    """--validation and --expect-language belong to --quality (exit 2 otherwise, before any reading)."""
    if not quality and (validation is not None or expected):
        given = "--validation" if validation is not None else "--expect-language"
        raise CliError(f"{given} needs --quality: cpt validate-dataset FILE --quality {given} ...")
    if validation is not None:
        regular_file(validation, "validation file")


def _sketch(path: Path, label: str) -> QualitySketch:
    try:
        with open_with_progress(path, label) as stream:
            return sketch_stream(stream)
    except OSError as exc:
        raise CliError(f"{path}: {exc.strerror or exc}", kind="file") from None


def add_quality(
    report: DatasetReport, path: Path, validation: Path | None, expected: dict[str, float]
) -> QualityReport:
    """Measure the quality of `path` (and its overlap with `validation`) into `report`, warnings included."""
    training = _sketch(path, f"quality of {path.name}")
    checked = _sketch(validation, f"overlap of {validation.name}") if validation is not None else None
    found = quality_report([training], [checked] if checked is not None else None)
    report.quality = found.model_dump(mode="json", exclude_none=True)
    report.warnings.extend(found.warnings(expected))
    return found


def _percent(share: float) -> str:
    return f"{share:.1%}"


def print_quality(path: str, found: QualityReport) -> None:
    """The quality figures as a short table under the dataset summary."""
    near = found.near_duplicates
    rows = [
        (
            "near-duplicates",
            f"{near.count} ({_percent(near.rate)}) in {len(near.clusters)} clusters, Jaccard >= {near.threshold:g}",
        ),
        ("languages", ", ".join(f"{code} {_percent(share)}" for code, share in found.languages.items()) or "-"),
        (
            "mojibake",
            f"{found.mojibake.count} ({_percent(found.mojibake.rate)})"
            + (f", lines {_first(found.mojibake.lines)}" if found.mojibake.lines else ""),
        ),
    ]
    overlap = found.validation_overlap
    if overlap is not None:
        rows.append(
            (
                "validation overlap",
                f"{overlap.exact} exact, {overlap.near} near"
                + (f", validation lines {_first(overlap.lines)}" if overlap.lines else ""),
            )
        )
    typer.echo(f"{path}: quality of {found.records} records")
    for name, value in rows:
        typer.echo(f"  {name:<20}{value}")


def _first(lines: list[int], shown: int = 10) -> str:
    more = f" ... ({len(lines) - shown} more listed)" if len(lines) > shown else ""
    return ", ".join(map(str, lines[:shown])) + more
