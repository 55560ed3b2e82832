"""What every cpt command shares: exit codes, usage errors, loading recipes and datasets."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from novacpt.contract import DatasetLimits
from novacpt.dataset import DatasetOptions, DatasetReport, validate_stream
from novacpt.recipe import Recipe, RecipeReport, parse_set_option, validate_recipe_file
from novacpt_cli.errors import EXIT_INVALID, EXIT_USAGE, EXIT_VALID, CliError, regular_file
from novacpt_cli.progress import open_with_progress

V = TypeVar("V")

__all__ = ["EXIT_INVALID", "EXIT_USAGE", "EXIT_VALID", "CliError", "fail_usage", "regular_file"]


def fail_usage(message: str) -> CliError:
    """A usage or I/O problem (the caller raises it): the error boundary prints one line, exit 2."""
    return CliError(message)


def parse_pairs(option: str, items: list[str] | None, parse: Callable[[str], tuple[str, V]]) -> dict[str, V]:
    """A repeated `OPTION key=value` as a mapping, each item read by `parse` (exit 2 naming a malformed one)."""
    pairs: dict[str, V] = {}
    for item in items or []:
        try:
            key, value = parse(item)
        except ValueError as exc:
            raise fail_usage(f"{option} {item!r}: {exc}") from None
        pairs[key] = value
    return pairs


def parse_overrides(items: list[str] | None) -> dict[str, Any]:
    """`--set a.b=c` options as an overrides mapping (exit 2 on a malformed one)."""
    return parse_pairs("--set", items, parse_set_option)


def load_recipe(path: Path, overrides: dict[str, Any], *, require_s3_paths: bool) -> RecipeReport:
    """Validate a recipe file; exit 2 when it cannot be read or is not a regular file."""
    regular_file(path, "recipe file")
    try:
        return validate_recipe_file(path, overrides=overrides, require_s3_paths=require_s3_paths)
    except OSError as exc:
        raise fail_usage(f"{path}: {exc.strerror or exc}") from exc


def scan_dataset(path: Path, options: DatasetOptions) -> DatasetReport:
    """Validate a local dataset file; exit 2 when it cannot be read or is not a regular file."""
    regular_file(path, "dataset file")
    try:
        with open_with_progress(path, f"validating {path.name}") as stream:
            return validate_stream(stream, path.name, options)
    except OSError as exc:
        raise fail_usage(f"{path}: {exc.strerror or exc}") from exc


def recipe_limits(recipe: Recipe) -> DatasetOptions:
    """What a dataset is checked against for this recipe (novacpt.contract.DatasetLimits, as in the pipeline)."""
    return DatasetLimits.of(recipe).options()
