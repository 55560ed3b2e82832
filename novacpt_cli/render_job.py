"""`cpt render-job`: the ConfigMap and PyTorchJob a run submits, as multi-document YAML (like `helm template`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from novacpt.jobs.manifests import DEFAULT_NAMESPACE, render_manifests, target_problems, to_yaml
from novacpt.naming import job_name as default_job_name
from novacpt_cli.cluster import CdkJsonOpt, StackOpt, StackRegionOpt, cluster_settings
from novacpt_cli.common import EXIT_INVALID, fail_usage, load_recipe, parse_overrides
from novacpt_cli.output import print_recipe_report


def render_job(
    recipe: Annotated[Path, typer.Argument(help="The recipe YAML file.")],
    region: Annotated[
        str | None, typer.Option(help="AWS region of the cluster (default: the deployment's, from cdk.json).")
    ] = None,
    account: Annotated[str, typer.Option(help="AWS account id of the cluster (12 digits).")] = "",
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="Override a key: --set run.data_s3_path=s3://bucket/train.jsonl.")
    ] = None,
    job_name: Annotated[
        str | None, typer.Option(help="Job name; default: run.name plus the suffix of --execution, as the pipeline.")
    ] = None,
    namespace: Annotated[str, typer.Option(help="Kubernetes namespace of the job.")] = DEFAULT_NAMESPACE,
    execution: Annotated[
        str, typer.Option(help="Execution name the job is labelled with (and its name derived from).")
    ] = "local",
    require_paths: Annotated[
        bool,
        typer.Option("--require-paths", help="Empty S3 paths are errors (by default rendered empty, with a note)."),
    ] = False,
    cdk_json: CdkJsonOpt = None,
    stack: StackOpt = None,
    stack_region: StackRegionOpt = None,
) -> None:
    """Print the job's manifests: exit 0, 1 when the recipe is invalid, 2 on a usage error."""
    settings = cluster_settings(cdk_json=cdk_json, stack=stack, stack_region=stack_region)
    region = region or (settings.region if settings else None)
    if not region:
        raise fail_usage("give --region (no cdk.json or --stack to take the deployment's region from)")
    if not account:
        raise fail_usage("give --account, the 12-digit AWS account id of the cluster")
    problems = target_problems(region=region, account=account, namespace=namespace, job_name=job_name)
    if problems:
        raise fail_usage("; ".join(problems))
    report = load_recipe(recipe, parse_overrides(set_), require_s3_paths=require_paths)
    if settings is not None:
        report = settings.apply(report)
    if report.errors or report.warnings or report.notes:
        print_recipe_report(str(recipe), report, err=True)
    if report.model is None:
        raise typer.Exit(EXIT_INVALID)
    name = job_name or default_job_name(report.model.run.name, execution)
    try:
        documents = render_manifests(
            report.model, region=region, account=account, job_name=name, execution=execution, namespace=namespace
        )
    except ValueError as exc:
        raise fail_usage(str(exc)) from exc
    typer.echo(to_yaml(documents), nl=False)
