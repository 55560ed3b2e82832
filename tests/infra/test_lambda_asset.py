"""The synthesised Lambda asset ships the runtime alone: handlers, novacpt and lambdas/requirements.txt.

Opens the asset of the real synth (`make synth`, bundling included) and checks what is in it, and
that no shipped module imports what is not shipped (the CLI, the development tools, their libraries).
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from tests.infra.conftest import Assembly

pytestmark = pytest.mark.slow

SOURCES = {"lambdas", "novacpt"}
# Never in the asset: the cpt command, the development package, and their libraries.
NOT_SHIPPED = {"novacpt_cli", "novacpt_dev", "typer", "rich", "moto", "tensorboardX", "stacks", "tests", "bench"}


def _pipeline_asset(assembly: Assembly) -> Path:
    found = [path.parent.parent for path in assembly.outdir.glob("asset.*/lambdas/__init__.py")]
    assert len(found) == 1, f"expected one Lambda code asset, found {found}"
    return found[0]


def _top_level_packages(asset: Path) -> set[str]:
    names = set()
    for entry in asset.iterdir():
        if entry.name.endswith((".dist-info", ".libs")) or entry.name in {"bin", "__pycache__"}:
            continue
        names.add(entry.name.removesuffix(".py"))
    return names


def test_the_asset_holds_the_runtime_and_its_requirements_only(assembly: Assembly) -> None:
    assert assembly.result.returncode == 0, assembly.result.stderr
    asset = _pipeline_asset(assembly)
    packages = _top_level_packages(asset)
    assert packages >= SOURCES
    assert not packages & NOT_SHIPPED, packages & NOT_SHIPPED
    distributions = {p.name.split("-")[0].lower() for p in asset.glob("*.dist-info")}
    assert not distributions & {n.lower() for n in NOT_SHIPPED}, distributions
    shipped = {str(p.relative_to(asset)) for p in asset.rglob("*.py") if p.parts[len(asset.parts)] in SOURCES}
    for forbidden in ("novacpt/cli", "novacpt/demo", "novacpt/emulator", "standin", "fakes", "novacpt/remote"):
        assert not [p for p in shipped if forbidden in p], forbidden


def test_no_shipped_module_imports_what_is_not_shipped(assembly: Assembly) -> None:
    asset = _pipeline_asset(assembly)
    offending = []
    for path in sorted(p for source in SOURCES for p in (asset / source).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            offending += [f"{path.relative_to(asset)}: {n}" for n in names if n.split(".")[0] in NOT_SHIPPED]
    assert offending == []


def test_every_function_handler_is_in_the_asset(assembly: Assembly) -> None:
    asset = _pipeline_asset(assembly)
    handlers = {
        resource["Properties"]["Handler"]
        for template in assembly.templates
        for resource in json.loads(template.read_text()).get("Resources", {}).values()
        if resource["Type"] == "AWS::Lambda::Function"
        and str(resource["Properties"].get("Handler", "")).startswith("lambdas.")
    }
    assert handlers
    for handler in handlers:
        module, _, function = handler.rpartition(".")
        source = asset / (module.replace(".", "/") + ".py")
        assert source.is_file(), handler
        assert f"def {function}(" in source.read_text(), handler
