"""Names AWS and Kubernetes see: the ARN of an execution the `cpt` command follows."""

from __future__ import annotations

from novacpt.naming import execution_arn


def test_an_execution_arn_is_the_state_machine_arn_with_the_execution_resource_and_name() -> None:
    machine = "arn:aws:states:us-west-2:123456789012:stateMachine:NovaCptRunA1B2"
    assert execution_arn(machine, "trial-7-0a1b2c") == (
        "arn:aws:states:us-west-2:123456789012:execution:NovaCptRunA1B2:trial-7-0a1b2c"
    )
