"""The README's table of cdk.json settings is generated from the field descriptions, never kept by hand."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from stacks.config import SETTINGS_BEGIN, SETTINGS_END, DeploymentConfig, settings_table, with_settings_table
from tests.conftest import ROOT

README = ROOT / "README.md"


def test_readme_settings_table_is_the_generated_one() -> None:
    readme = README.read_text(encoding="utf-8")
    assert with_settings_table(readme) == readme, (
        "README.md's settings table differs from the field descriptions of stacks/config.py: "
        "run `.venv/bin/python -m stacks.config --write-readme README.md`"
    )


def test_every_setting_is_one_row_with_its_description_and_default() -> None:
    table = settings_table()
    for name, info in DeploymentConfig.model_fields.items():
        (row,) = [line for line in table.splitlines() if line.startswith(f"| `{name}` |")]
        assert str(info.description) in row
    assert "| `budget_instance_hours` | pipeline | `400` |" in table
    assert '| `availability_zones` | cluster | `["us-east-1a", "us-east-1b"]` |' in table


def test_no_setting_is_described_twice_in_the_readme() -> None:
    """A hand-written table of settings outside the generated section would be a second description."""
    readme = README.read_text(encoding="utf-8")
    outside = readme[: readme.index(SETTINGS_BEGIN)] + readme[readme.index(SETTINGS_END) :]
    for table in re.findall(r"(?:^\|.*\n)+", outside, re.MULTILINE):
        named = set(re.findall(r"^\| `([a-z_0-9]+)`", table, re.MULTILINE)) & set(DeploymentConfig.model_fields)
        assert len(named) < 2, f"a second table of settings in README.md: {sorted(named)}"


def test_a_changed_description_changes_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    field = DeploymentConfig.model_fields["poll_interval_seconds"]
    monkeypatch.setattr(field, "description", "an integer (seconds | between polls)")
    assert "| an integer (seconds \\| between polls) |" in settings_table()
    with pytest.raises(ValueError, match="no settings table"):
        with_settings_table("# a README without the section\n")


def test_the_command_prints_the_table() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "stacks.config", "--markdown"], capture_output=True, text=True, check=False, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == settings_table() + "\n"
    usage = subprocess.run([sys.executable, "-m", "stacks.config"], capture_output=True, text=True, check=False)
    assert usage.returncode == 1 and "usage: python -m stacks.config --markdown" in usage.stderr
