"""Static checks of the state machine definition: it parses, every transition lands on a state,
every Task retries and catches, and the states the code names (in results paths and job lookups)
exist. No AWS needed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEFINITION = ROOT / "statemachine" / "run_build.asl.yaml"
# Named by the code: the job states (nsclient_common.jobfacts) and the results each handler reads.
NAMED_BY_CODE = ("PrepareRun", "SubmitBuildJob", "RetryOnDemandJob", "CollectLogs", "FinalizeRun")


def _states() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(DEFINITION.read_text())
    return dict(document["States"])


def _targets(state: dict[str, Any]) -> list[str]:
    targets = [state["Next"]] if "Next" in state else []
    targets += [choice["Next"] for choice in state.get("Choices", [])]
    targets += [state["Default"]] if "Default" in state else []
    targets += [catch["Next"] for catch in state.get("Catch", [])]
    return targets


def test_statemachine_starts_at_a_state_and_every_transition_lands_on_one() -> None:
    document = yaml.safe_load(DEFINITION.read_text())
    states = _states()
    assert document["StartAt"] in states
    missing = {(name, target) for name, state in states.items() for target in _targets(state) if target not in states}
    assert not missing


def test_statemachine_every_state_is_reachable() -> None:
    states = _states()
    reached, frontier = set(), [yaml.safe_load(DEFINITION.read_text())["StartAt"]]
    while frontier:
        name = frontier.pop()
        if name not in reached:
            reached.add(name)
            frontier += _targets(states[name])
    assert reached == set(states)


@pytest.mark.parametrize("name", [n for n, s in _states().items() if s["Type"] == "Task"])
def test_statemachine_task_retries_and_catches_everything(name: str) -> None:
    state = _states()[name]
    assert state.get("Retry"), f"{name} has no Retry"
    assert any("States.ALL" in catch["ErrorEquals"] for catch in state.get("Catch", [])), f"{name} catches no error"


@pytest.mark.parametrize("name", NAMED_BY_CODE)
def test_statemachine_has_the_states_the_code_names(name: str) -> None:
    assert name in _states()
    assert name in (ROOT / "functions").joinpath("common", "nsclient_common", "jobfacts.py").read_text() or any(
        name in path.read_text() for path in (ROOT / "functions").glob("*/app.py")
    )


def _paths(value: Any) -> list[str]:
    """Every JSONPath the definition reads ("$..." values of ".$" keys and of Choice Variables)."""
    if isinstance(value, dict):
        found = [v for k, v in value.items() if (k.endswith(".$") or k == "Variable") and isinstance(v, str)]
        return found + [p for v in value.values() for p in _paths(v)]
    if isinstance(value, list):
        return [p for v in value for p in _paths(v)]
    return []


def test_statemachine_reads_only_results_and_errors_that_a_state_writes() -> None:
    states = _states()
    written = {s["ResultPath"] for s in states.values() if "ResultPath" in s}
    written |= {c["ResultPath"] for s in states.values() for c in s.get("Catch", [])}
    read = [p for p in _paths(states) if p.startswith(("$.results.", "$.errors."))]
    assert read
    unwritten = {p for p in read if ".".join(p.split(".")[:3]) not in written}
    assert not unwritten


def test_statemachine_lambda_results_are_the_functions_own_output() -> None:
    # Each Lambda Task names its function as Resource: its result is what the handler returned, with no
    # lambda:invoke response (StatusCode, Payload) around it, so the handlers and Choices read fields directly.
    lambda_tasks = {n: s for n, s in _states().items() if s["Type"] == "Task" and "FunctionArn}" in s["Resource"]}
    assert set(lambda_tasks) == {"PrepareRun", "CollectLogs", "FinalizeRun", "FinalizeRunSafely", "NotifyRun"}
    for name, state in lambda_tasks.items():
        assert state["Resource"].startswith("${") and "ResultSelector" not in state, name
    assert not [p for p in _paths(_states()) if ".Payload" in p]
    assert not [n for n, s in _states().items() if "lambda:invoke" in s.get("Resource", "")]


def test_statemachine_has_the_job_states_the_job_facts_read() -> None:
    from nsclient_common.jobfacts import JOB_STATES

    states = _states()
    for name in JOB_STATES:
        assert states[name]["Resource"].endswith("batch:submitJob.sync")
        assert states[name]["ResultPath"] == f"$.results.{name}"
