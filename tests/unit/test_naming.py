"""Names AWS and Kubernetes see: executions (one per recipe version), their ARNs, and job names."""

from __future__ import annotations

import re

import pytest

from novacpt.naming import EXECUTION_NAME_MAX, JOB_NAME_MAX, execution_arn, execution_name, job_name


def test_an_execution_arn_is_the_state_machine_arn_with_the_execution_resource_and_name() -> None:
    machine = "arn:aws:states:us-west-2:123456789012:stateMachine:NovaCptRunA1B2"
    assert execution_arn(machine, "trial-7-0a1b2c") == (
        "arn:aws:states:us-west-2:123456789012:execution:NovaCptRunA1B2:trial-7-0a1b2c"
    )


def test_an_execution_name_is_the_job_folder_then_a_digest_of_the_object_version() -> None:
    name = execution_name("data-bkt", "jobs/pubmed_2026.v1/recipe.yaml", "v1")
    assert re.fullmatch(r"pubmed_2026-v1-[0-9a-f]{20}", name), name


def test_an_execution_name_fits_step_functions_limit_exactly_for_a_long_folder() -> None:
    name = execution_name("data-bkt", f"jobs/{'a' * 120}/recipe.yaml", "v1")
    assert len(name) == EXECUTION_NAME_MAX == 80
    assert name.startswith("a" * 59 + "-")


@pytest.mark.parametrize(
    ("key", "label"),
    [
        ("recipe.yaml", "run"),  # no job folder
        ("jobs/日本語/recipe.yaml", "run"),  # nothing of the folder is usable in a name
        ("jobs/X-ray--/recipe.yaml", "X-ray"),  # separators trimmed, letters kept
    ],
)
def test_an_execution_name_without_a_usable_folder_is_a_run(key: str, label: str) -> None:
    assert re.fullmatch(rf"{re.escape(label)}-[0-9a-f]{{20}}", execution_name("data-bkt", key, "v1"))


@pytest.mark.parametrize("version", ["", "XXXX", "null", "v1"])
def test_an_unversioned_object_and_a_versioned_one_start_different_runs(version: str) -> None:
    key = "jobs/a/recipe.yaml"
    unversioned = execution_name("data-bkt", key, None)
    assert (unversioned == execution_name("data-bkt", key, version)) is (version == "")


def test_a_job_name_is_the_run_name_cut_to_fit_then_an_eight_digit_suffix() -> None:
    short = job_name("nova-lite-cpt", "exec-1")
    assert re.fullmatch(r"nova-lite-cpt-[0-9a-f]{8}", short), short
    long = job_name("a" * 43 + "-" + "b" * 30, "exec-1")
    assert len(long) <= JOB_NAME_MAX == 53
    assert re.fullmatch(r"a{43}-[0-9a-f]{8}", long), long  # cut before the '-': never '--'
    assert len(job_name("c" * 80, "exec-1")) == JOB_NAME_MAX
