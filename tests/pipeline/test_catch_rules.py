"""Catchers as AWS applies them: States.ALL matches every error but the terminal States.DataLimitExceeded
(tests/pipeline/test_payload_limits.py) and runtime errors, such as a path missing from a state's input:
then the execution fails whatever the state's Catch says."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from nsclient.local.stack import STACK_NAME
from tests.support import wait_until

if TYPE_CHECKING:
    from tests.support import Backend


PREPARE_RUN = f"arn:aws:lambda:us-east-1:123456789012:function:{STACK_NAME}-PrepareRunFunction"


def _machine(parameters: dict[str, Any], resource: str = "arn:aws:states:::lambda:invoke") -> dict[str, Any]:
    """A Task whose parameters come from its input, with a catcher of States.ALL. A call it makes is one the
    stack's state machine role may make (the local backend's Step Functions call as that role)."""
    return {
        "StartAt": "Invoke",
        "States": {
            "Invoke": {
                "Type": "Task",
                "Resource": resource,
                "Parameters": parameters,
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}],
                "End": True,
            },
            "Caught": {"Type": "Pass", "End": True},
        },
    }


def _run(backend: Backend, definition: dict[str, Any], timeout: float = 60) -> dict[str, Any]:
    sfn = backend.client("stepfunctions")
    machine = backend.state_machine("catch-rules", definition)
    arn = sfn.start_execution(stateMachineArn=machine, name="run", input=json.dumps({"present": "x"}))["executionArn"]

    def ended() -> dict[str, Any] | None:
        described: dict[str, Any] = sfn.describe_execution(executionArn=arn)
        return described if described["status"] != "RUNNING" else None

    return wait_until(ended, timeout=timeout, what=f"{arn} ended")


def test_a_path_missing_from_the_input_fails_the_execution_past_a_states_all_catcher(local_backend: Backend) -> None:
    described = _run(local_backend, _machine({"FunctionName": PREPARE_RUN, "Payload.$": "$.missing"}))
    assert described["status"] == "FAILED"
    assert described["error"] == "States.Runtime"


def test_a_task_error_is_caught_by_states_all(local_backend: Backend) -> None:
    # The function refuses an input that is no run's: the task fails with a catchable error, and the catcher takes it.
    described = _run(local_backend, _machine({"upload.$": "$.present"}, resource=PREPARE_RUN))
    assert described["status"] == "SUCCEEDED"
