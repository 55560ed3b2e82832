"""Compiler-style text output for the cpt command (colour only on a terminal)."""

from __future__ import annotations

import typer

from novacpt.dataset import DatasetReport
from novacpt.recipe import RecipeReport
from novacpt_cli.errors import emit_json

__all__ = ["emit_json", "print_dataset_report", "print_recipe_report"]


def _line(text: str, colour: str | None = None, *, err: bool = False) -> None:
    typer.secho(text, fg=colour, err=err)


def print_dataset_report(path: str, report: DatasetReport) -> None:
    """One line per error (`file:line: code: message`), then warnings and a summary."""
    for error in report.errors:
        where = f"{path}:{error.line}" if error.line is not None else path
        _line(f"{where}: {error.code}: {error.message}", "red")
    total = sum(report.error_counts.values())
    if total > len(report.errors):
        _line(f"{path}: ... {total - len(report.errors)} more errors not shown", "red")
    for warning in report.warnings:
        _line(f"{path}: warning: {warning.code}: {warning.message}", "yellow")
    stats = report.stats
    counts = ", ".join(f"{code} {n}" for code, n in sorted(report.error_counts.items()))
    verdict = "valid" if report.valid else f"INVALID ({total} errors: {counts})"
    lengths = stats.get("length_tokens") or {}
    _line(
        f"{path}: {verdict}; {stats['lines']} lines, {stats['records']} records, "
        f"~{stats['estimated_tokens']} tokens (p50 {lengths.get('p50', 0)}, max {lengths.get('max', 0)}), "
        f"{stats['exact_duplicates']['count']} exact duplicates"
        + (f", {near['count']} normalised duplicates" if (near := stats.get("normalised_duplicates")) else ""),
        "green" if report.valid else "red",
    )


def print_recipe_report(path: str, report: RecipeReport, *, err: bool = False) -> None:
    """One line per error (`file: field: message`), then warnings and a verdict (on stderr with `err`)."""
    for issue in report.errors:
        _line(f"{path}: {issue.field or '(file)'}: {issue.message}", "red", err=err)
    for issue in report.warnings:
        _line(f"{path}: warning: {issue.field or '(file)'}: {issue.message}", "yellow", err=err)
    for issue in report.notes:
        _line(f"{path}: note: {issue.field or '(file)'}: {issue.message}", err=err)
    if report.valid:
        generation = f" (Nova {report.model.generation})" if report.model else ""
        _line(f"{path}: valid{generation}", "green", err=err)
    else:
        _line(f"{path}: INVALID ({len(report.errors)} errors)", "red", err=err)
