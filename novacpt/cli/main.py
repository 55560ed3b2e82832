"""`cpt`: validate datasets and recipes, estimate runs. Exit 0 valid, 1 invalid, 2 usage or I/O error."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from novacpt import __version__
from novacpt.catalog import model_by_type
from novacpt.cli import remote
from novacpt.cli.common import (
    EXIT_INVALID,
    EXIT_VALID,
    fail_usage,
    load_recipe,
    parse_overrides,
    recipe_limits,
    scan_dataset,
)
from novacpt.cli.demo import demo
from novacpt.cli.output import emit_json, print_dataset_report, print_recipe_report
from novacpt.cli.render_job import render_job
from novacpt.dataset import DatasetOptions
from novacpt.estimate import estimate_run

app = typer.Typer(
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
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
) -> None:
    """Check a dataset line by line: exit 0 valid, 1 invalid, 2 usage or I/O error."""
    limits = _limits_from_recipe(recipe)
    options = DatasetOptions(
        normalised_duplicates=normalised,
        max_length=limits.max_length,
        global_batch_size=limits.global_batch_size,
        max_epochs=limits.max_epochs,
    )
    report = scan_dataset(path, options)
    if as_json:
        emit_json(report.to_json_dict())
    else:
        print_dataset_report(str(path), report)
    raise typer.Exit(EXIT_VALID if report.valid else EXIT_INVALID)


@app.command("validate-recipe")
def validate_recipe(
    path: Annotated[Path, typer.Argument(help="The recipe YAML file.")],
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="Override a key: --set training_config.max_length=4096.")
    ] = None,
    allow_empty_paths: Annotated[
        bool, typer.Option(help="Accept empty S3 paths (the pipeline fills them from the drop location).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
) -> None:
    """Check a recipe against every Nova CPT rule: exit 0 valid, 1 invalid, 2 usage or I/O error."""
    report = load_recipe(path, parse_overrides(set_), require_s3_paths=not allow_empty_paths)
    if as_json:
        emit_json(report.to_json_dict())
    else:
        print_recipe_report(str(path), report)
    raise typer.Exit(EXIT_VALID if report.valid else EXIT_INVALID)


@app.command("estimate")
def estimate(
    recipe: Annotated[Path, typer.Argument(help="The recipe YAML file.")],
    samples: Annotated[int | None, typer.Option(min=0, help="Number of training records.")] = None,
    dataset: Annotated[Path | None, typer.Option(help="Count the records of this dataset instead.")] = None,
    price: Annotated[
        float | None, typer.Option("--price-per-instance-hour", min=0, help="USD per ml.p5.48xlarge hour.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
) -> None:
    """Estimate training hours and P5 instance-hours (and dollars when priced)."""
    if (samples is None) == (dataset is None):
        raise fail_usage("give exactly one of --samples N or --dataset PATH")
    report = load_recipe(recipe, {}, require_s3_paths=False)
    if report.model is None:
        print_recipe_report(str(recipe), report)
        raise typer.Exit(EXIT_INVALID)
    if dataset is not None:
        data_report = scan_dataset(dataset, DatasetOptions())
        if not data_report.valid:
            print_dataset_report(str(dataset), data_report)
            raise typer.Exit(EXIT_INVALID)
        samples = int(data_report.stats["records"])
    run = report.model.run
    model = model_by_type(run.model_type)
    assert model is not None  # a valid recipe names a catalogued model
    result = estimate_run(
        model,
        samples=samples or 0,
        epochs=report.model.training_config.trainer.max_epochs,
        replicas=run.replicas,
        price_per_instance_hour=price,
    )
    if as_json:
        emit_json(result.to_dict())
        return
    cost = f", ${result.cost_usd:,.2f}" if result.cost_usd is not None else ""
    typer.echo(
        f"{recipe}: Nova {model.key}, {result.samples} samples x {result.epochs} epochs on {result.replicas} "
        f"x {result.instance_type}: ~{result.hours:.2f} h, {result.instance_hours:.1f} instance-hours{cost}"
    )


app.command("render-job")(render_job)
app.command("demo")(demo)
app.command("submit")(remote.submit)
app.command("status")(remote.status)
app.command("runs")(remote.runs)
app.command("logs")(remote.logs)
