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
