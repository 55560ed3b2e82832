"""The deployment's cluster settings (model, max_replicas, region, price) for local checks.

Read through one function, `cluster_settings`: from a deployed pipeline stack's outputs (`--stack`),
else from a `cdk.json` (`--cdk-json`, default `./cdk.json` when present) through the CDK app's own
configuration model, so the allowed values are never written down twice. A recipe the deployment
would refuse gets the pipeline's own message (`novacpt.recipe.deployment_issues`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from novacpt.catalog import BY_KEY, NovaModel
from novacpt.recipe import RecipeIssue, RecipeReport, deployment_issues
from novacpt_cli.errors import CliError

DEFAULT_CDK_JSON = Path("cdk.json")
CLUSTER_MODEL_OUTPUT = "ClusterModel"
MAX_REPLICAS_OUTPUT = "MaxReplicas"

CdkJsonOpt = Annotated[
    Path | None,
    typer.Option(
        "--cdk-json",
        help="The deployment's cdk.json: its model and max_replicas are enforced (default: ./cdk.json, if any, "
        "as warnings).",
    ),
]
StackOpt = Annotated[
    str | None,
    typer.Option("--stack", help="A deployed pipeline stack whose model and max_replicas are enforced."),
]
StackRegionOpt = Annotated[str | None, typer.Option("--stack-region", help="Region of --stack.")]


class SettingsError(ValueError):
    """The settings could not be read (one line: what and how to fix it)."""


@dataclass(frozen=True, slots=True)
class ClusterSettings:
    """What the deployment allows a recipe."""

    source: str  # "cdk.json" or "stack NovaCptPipeline"
    enforced: bool  # False: implied by ./cdk.json, so refusals are warnings
    model: NovaModel
    max_replicas: int
    region: str
    price_per_instance_hour: float | None = None

    def refusals(self, report: RecipeReport) -> list[RecipeIssue]:
        """The pipeline's refusals of this recipe under these settings."""
        if report.recipe is None:
            return []
        return deployment_issues(
            report.recipe, report.errors, max_replicas=self.max_replicas, model_type=self.model.model_type
        )

    def apply(self, report: RecipeReport) -> RecipeReport:
        """`report` with the refusals added: errors when enforced, else warnings naming the source."""
        found = self.refusals(report)
        if not found:
            return report
        if self.enforced:
            return RecipeReport(
                report.source, report.errors + found, report.warnings, report.recipe, None, report.notes
            )
        shown = [RecipeIssue(i.field, f"the deployment in {self.source} would refuse this: {i.message}") for i in found]
        return RecipeReport(
            report.source, report.errors, report.warnings + shown, report.recipe, report.model, report.notes
        )


def _from_cdk_json(path: Path, enforced: bool) -> ClusterSettings:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SettingsError(f"{path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise SettingsError(f"{path}: not JSON ({exc})") from None
    context = document.get("context") if isinstance(document, dict) else None
    if not isinstance(context, dict):
        raise SettingsError(f'{path}: no "context" object: is this the project\'s cdk.json?')
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")  # no Node banner on stderr
    try:
        from stacks.config import ConfigError, DeploymentConfig  # the CDK app's model: loaded only when needed
    except ImportError as exc:
        raise SettingsError(
            f"{path}: cannot read it without the project's CDK code ({exc}); run cpt from the project"
        ) from None
    try:
        config = DeploymentConfig.from_context(context.get)
    except ConfigError as exc:
        raise SettingsError(f"{path}: {exc}") from None
    return ClusterSettings(
        str(path), enforced, BY_KEY[config.model], config.max_replicas, config.region, config.price_per_instance_hour
    )


def _from_stack(stack: str, region: str | None) -> ClusterSettings:
    import boto3  # only for --stack
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        session = boto3.session.Session(region_name=region)
        found = session.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
    except (BotoCoreError, ClientError) as exc:
        raise SettingsError(f"stack {stack}: {exc}; check --stack, --stack-region and your AWS credentials") from None
    outputs: dict[str, Any] = {o["OutputKey"]: o["OutputValue"] for o in found.get("Outputs", [])}
    model = BY_KEY.get(str(outputs.get(CLUSTER_MODEL_OUTPUT)))
    replicas = str(outputs.get(MAX_REPLICAS_OUTPUT, ""))
    if model is None or not replicas.isdigit():
        raise SettingsError(
            f"stack {stack} has no {CLUSTER_MODEL_OUTPUT}/{MAX_REPLICAS_OUTPUT} outputs: redeploy it with this version"
        )
    arn_region = str(found.get("StackId", "")).split(":")[3:4]
    return ClusterSettings(f"stack {stack}", True, model, int(replicas), (arn_region or [region or ""])[0])


def cluster_settings(*, cdk_json: Path | None, stack: str | None, stack_region: str | None) -> ClusterSettings | None:
    """The settings to check recipes against, or None when there is no deployment to ask (exit 2 on a bad one)."""
    try:
        if stack is not None:
            return _from_stack(stack, stack_region)
        if cdk_json is not None:
            return _from_cdk_json(cdk_json, enforced=True)
    except SettingsError as exc:
        raise CliError(str(exc)) from None
    try:
        if DEFAULT_CDK_JSON.is_file():
            return _from_cdk_json(DEFAULT_CDK_JSON, enforced=False)
    except SettingsError as exc:  # implied, not asked for: say why it was not used, and go on
        typer.secho(f"cpt: note: deployment settings not checked: {exc}", err=True)
        return None
    return None
