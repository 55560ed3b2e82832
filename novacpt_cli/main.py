"""`cpt`: check datasets and recipes, plan, run, watch and report. Exit 0 valid, 1 invalid, 2 usage or environment."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from novacpt import __version__
from novacpt.dataset import DatasetOptions
from novacpt_cli import remote
from novacpt_cli.cluster import CdkJsonOpt, StackOpt, StackRegionOpt, cluster_settings
from novacpt_cli.common import (
    EXIT_INVALID,
    EXIT_VALID,
    fail_usage,
    load_recipe,
    parse_overrides,
    recipe_limits,
    scan_dataset,
)
from novacpt_cli.demo import demo
from novacpt_cli.doctor import doctor
from novacpt_cli.errors import GuardedGroup
from novacpt_cli.output import emit_json, print_dataset_report, print_recipe_report
from novacpt_cli.plan import plan
from novacpt_cli.quality import add_quality, check_options, expected_languages, print_quality
from novacpt_cli.render_job import render_job

app = typer.Typer(
    cls=GuardedGroup,  # one error boundary for every command: one line, exit 2, never a traceback
    help="Check Amazon Nova continued pre-training datasets and recipes before a P5 cluster spends a cent.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"cpt {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """Nova CPT on SageMaker HyperPod."""


def _limits_from_recipe(recipe_path: Path | None) -> DatasetOptions:
    if recipe_path is None:
        return DatasetOptions()
    report = load_recipe(recipe_path, {}, require_s3_paths=False)
    if report.model is None:
        print_recipe_report(str(recipe_path), report)
        raise fail_usage(f"--recipe {recipe_path}: the recipe is invalid (see above)")
    return recipe_limits(report.model)


@app.command("validate-dataset")
def validate_dataset(
    path: Annotated[Path, typer.Argument(help="The JSONL dataset file.")],
    recipe: Annotated[
        Path | None, typer.Option(help="Recipe whose max_length, batch size and epochs the data is checked against.")
    ] = None,
    normalised: Annotated[
        bool, typer.Option("--normalised/--exact", help="Also count duplicates after NFC and whitespace folding.")
    ] = False,
    quality: Annotated[
        bool,
        typer.Option("--quality", help="Also measure near-duplicates, languages and mojibake (warnings, not errors)."),
    ] = False,
    validation: Annotated[
        Path | None,
        typer.Option(
            help="With --quality: the validation JSONL, checked for exact and near copies of training records."
        ),
    ] = None,
    expect_language: Annotated[
        list[str] | None,
        typer.Option(
            "--expect-language", help="With --quality: warn when a language holds less than this share (ja=0.6)."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
) -> None:
    """Check a dataset line by line: exit 0 valid, 1 invalid, 2 usage or I/O error."""
    expected = expected_languages(expect_language)
    check_options(quality, validation, expected)
    limits = _limits_from_recipe(recipe)
    options = DatasetOptions(
        normalised_duplicates=normalised,
        max_length=limits.max_length,
        global_batch_size=limits.global_batch_size,
        max_epochs=limits.max_epochs,
    )
    report = scan_dataset(path, options)
    found = add_quality(report, path, validation, expected) if quality else None
    if as_json:
        emit_json(report.to_json_dict())
    else:
        print_dataset_report(str(path), report)
        if found is not None:
            print_quality(str(path), found)
    raise typer.Exit(EXIT_VALID if report.valid else EXIT_INVALID)


@app.command("validate-recipe")
def validate_recipe(
    paths: Annotated[list[Path], typer.Argument(help="The recipe YAML file(s).")],
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="Override a key: --set training_config.max_length=4096.")
    ] = None,
    require_paths: Annotated[
        bool,
        typer.Option("--require-paths", help="Empty S3 paths are errors (by default a note: the pipeline fills them)."),
    ] = False,
    cdk_json: CdkJsonOpt = None,
    stack: StackOpt = None,
    stack_region: StackRegionOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
) -> None:
    """Check recipes against every Nova CPT rule (1.0 and 2.0): exit 0 valid, 1 invalid, 2 usage or I/O error."""
    overrides = parse_overrides(set_)
    settings = cluster_settings(cdk_json=cdk_json, stack=stack, stack_region=stack_region)
    reports = []
    for path in paths:
        report = load_recipe(path, overrides, require_s3_paths=require_paths)
        reports.append((path, settings.apply(report) if settings else report))
    if as_json:
        results = [{"path": str(path), **report.to_json_dict()} for path, report in reports]
        payload = results[0] if len(results) == 1 else {"valid": all(r["valid"] for r in results), "recipes": results}
        emit_json(payload)
    else:
        for path, report in reports:
            print_recipe_report(str(path), report)
    raise typer.Exit(EXIT_VALID if all(report.valid for _, report in reports) else EXIT_INVALID)


app.command("plan")(plan)
app.command("estimate", help="Same as `cpt plan` (kept for earlier scripts).")(plan)
app.command("render-job")(render_job)
app.command("demo")(demo)
app.command("submit")(remote.submit)
app.command("status")(remote.status)
app.command("watch")(remote.watch)
app.command("report")(remote.report)
app.command("runs")(remote.runs)
app.command("logs")(remote.logs)
app.command("doctor")(doctor)
