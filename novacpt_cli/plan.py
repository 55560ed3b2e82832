"""`cpt plan`: from a dataset's tokens to the recipe's steps, hours and dollars (the pipeline's Estimate code)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from novacpt.plan import DEFAULT_EPOCHS, Plan, PlanInputs, check_epochs, check_price, count_doc_separators, make_plan
from novacpt_cli.cluster import CdkJsonOpt, StackOpt, StackRegionOpt, cluster_settings
from novacpt_cli.common import EXIT_INVALID, fail_usage, load_recipe, recipe_limits, scan_dataset
from novacpt_cli.output import emit_json, print_dataset_report, print_recipe_report


def _money(usd: float | None) -> str:
    return f", ${usd:,.2f}" if usd is not None else ""


def _passes(passes: float) -> str:
    return f"{passes:.1%} of a pass" if passes < 1 else f"{passes:.2f} passes"


def _print(recipe: Path, plan: Plan) -> None:
    run = plan.recipe_run
    unit = "max_steps" if plan.generation == "2.0" else "steps of max_epochs"
    lines = [
        f"{recipe}: Nova {plan.generation} {plan.model} on {plan.replicas} x {plan.instance_type}",
        f"  tokens           {plan.tokens:>15,}  ({plan.token_estimate})",
        f"  sequences        {plan.sequences:>15,}  = ceil(tokens / max_length {plan.max_length})",
        f"  steps_per_epoch  {plan.steps_per_epoch:>15,}  = ceil(sequences / global_batch_size "
        f"{plan.global_batch_size})",
        f"  recipe           {run.steps:>15,}  {unit}: {_passes(run.passes)}, ~{run.hours:g} h, "
        f"{run.instance_hours:g} instance-hours{_money(run.cost_usd)}",
    ]
    if plan.generation == "2.0":
        lines.append(
            f"  suggested        {plan.max_steps:>15,}  max_steps for {plan.epochs:g} pass(es): ~{plan.hours:g} h, "
            f"{plan.instance_hours:g} instance-hours{_money(plan.cost_usd)}"
        )
    typer.echo("\n".join(lines))
    for warning in plan.warnings:
        typer.secho(f"{recipe}: warning: {warning.code}: {warning.message}", fg="yellow")
    if plan.price_per_instance_hour is None:
        typer.echo(
            "  (no price: give --price-per-instance-hour or set price_per_instance_hour in cdk.json for dollars)"
        )


def plan(
    recipe: Annotated[Path, typer.Argument(help="The recipe YAML file (Nova 1.0 or 2.0).")],
    dataset: Annotated[Path, typer.Option(help="The training JSONL: its estimated tokens drive the plan.")],
    epochs: Annotated[
        float, typer.Option(help="Passes over the data the suggested max_steps covers (Nova 2.0).")
    ] = DEFAULT_EPOCHS,
    price: Annotated[
        float | None, typer.Option("--price-per-instance-hour", help="USD per ml.p5.48xlarge instance-hour.")
    ] = None,
    cdk_json: CdkJsonOpt = None,
    stack: StackOpt = None,
    stack_region: StackRegionOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
) -> None:
    """Plan a run: tokens, sequences, steps, hours, instance-hours and dollars; exit 0, 1 invalid, 2 usage."""
    try:
        check_price(price)
        check_epochs(epochs)
    except ValueError as exc:
        raise fail_usage(str(exc)) from None
    settings = cluster_settings(cdk_json=cdk_json, stack=stack, stack_region=stack_region)
    report = load_recipe(recipe, {}, require_s3_paths=False)
    if settings is not None:
        report = settings.apply(report)
    if report.model is None:
        if as_json:
            emit_json({"valid": False, "recipe": report.to_json_dict()})
        else:
            print_recipe_report(str(recipe), report)
        raise typer.Exit(EXIT_INVALID)
    data_report = scan_dataset(dataset, recipe_limits(report.model))
    if not data_report.valid:
        if as_json:
            emit_json({"valid": False, "dataset": data_report.to_json_dict()})
        else:
            print_dataset_report(str(dataset), data_report)
        raise typer.Exit(EXIT_INVALID)
    if price is None and settings is not None:
        price = settings.price_per_instance_hour
    stats = data_report.stats
    try:
        doc_separators = count_doc_separators(dataset)
    except OSError as exc:
        raise fail_usage(f"{dataset}: {exc.strerror or exc}") from exc
    result = make_plan(
        PlanInputs.from_recipe(report.model),
        tokens=int(stats["estimated_tokens"]),
        token_estimate=str(stats.get("token_estimate", "")),
        epochs=epochs,
        price_per_instance_hour=price,
        doc_separators=doc_separators,
    )
    if as_json:
        emit_json({"valid": True, **result.to_dict(), "recipe_warnings": [w.to_dict() for w in report.warnings]})
        return
    for issue in report.warnings:
        typer.secho(f"{recipe}: warning: {issue.field or '(file)'}: {issue.message}", fg="yellow")
    _print(recipe, result)
