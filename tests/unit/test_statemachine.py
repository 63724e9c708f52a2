"""Static checks of the state machine definition: it parses, every transition lands on a state,
every Task retries and catches, the states the code names exist, and every path a state writes or
reads is a field of the execution's models (nsclient_common.execution). No AWS needed."""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

ROOT = Path(__file__).resolve().parents[2]
DEFINITION = ROOT / "statemachine" / "run_build.asl.yaml"


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


def _field(model: type[BaseModel], name: str) -> Any:
    """The type of a model's field by its name or alias (what the JSON says), None when it has none."""
    for field_name, field in model.model_fields.items():
        if name in (field_name, field.alias):
            return field.annotation
    return None


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The model a field holds (a `Model | None` included); None for an unmodelled value such as a dict."""
    for candidate in (annotation, *typing.get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _resolves(model: type[BaseModel], path: str) -> bool:
    """Whether a JSONPath ($.a.b.c) names a field of the model, through the models its fields hold. Below a
    field that holds no model (Batch's job description, a dict) any path is taken: no code of ours reads it."""
    current: type[BaseModel] | None = model
    for name in path.removeprefix("$.").split("."):
        if current is None:
            return True
        annotation = _field(current, name)
        if annotation is None:
            return False
        current = _model_of(annotation)
    return True


def _result_paths(states: dict[str, Any]) -> list[str]:
    paths = [s["ResultPath"] for s in states.values() if "ResultPath" in s]
    return paths + [c["ResultPath"] for s in states.values() for c in s.get("Catch", [])]


def test_every_result_and_error_a_state_writes_is_a_field_of_the_run_state() -> None:
    from nsclient_common.execution import RunState

    states = _states()
    paths = _result_paths(states)
    assert len(paths) == 2 * len([s for s in states.values() if s["Type"] == "Task"])
    assert [p for p in paths if not _resolves(RunState, p)] == []


def test_every_path_a_state_reads_is_a_field_of_the_run_state() -> None:
    from nsclient_common.execution import RunState

    read = [p for p in _paths(_states()) if p.startswith("$.")]  # $$. is the context object, not the state
    assert "$.results.PrepareRun.job.JobQueue" in read and "$.results.FinalizeRun.record.status" in read
    assert [p for p in read if not _resolves(RunState, p)] == []


def test_each_lambda_task_is_given_what_its_input_model_requires() -> None:
    from nsclient_common.execution import TASK_INPUTS, RunState

    lambda_tasks = {n: s for n, s in _states().items() if s["Type"] == "Task" and "FunctionArn}" in s["Resource"]}
    assert set(lambda_tasks) == set(TASK_INPUTS)
    for name, state in lambda_tasks.items():
        model = TASK_INPUTS[name]
        required = {f.alias or n for n, f in model.model_fields.items() if f.is_required()}
        if "Parameters" in state:
            given = {key.removesuffix(".$") for key in state["Parameters"]}
            assert given <= set(model.model_fields), f"{name} is given fields its input model lacks"
        else:  # the whole state
            given = {f.alias or n for n, f in RunState.model_fields.items()}
        assert required <= given, f"{name} is not given {required - given}"


def test_the_state_names_the_code_uses_are_the_state_machines() -> None:
    from nsclient_common import states as names
    from nsclient_common.execution import Errors, Results

    constants = {v for k, v in vars(names).items() if k.isupper() and isinstance(v, str)}
    assert constants >= {"PrepareRun", "CollectLogs", "FinalizeRun"}
    assert constants <= set(_states())
    tasks = {n for n, s in _states().items() if s["Type"] == "Task"}
    assert {f.alias for f in Results.model_fields.values()} <= tasks
    # Every Task's error has a field: a state added to the machine is added to the models.
    assert {f.alias for f in Errors.model_fields.values()} == tasks


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
    from nsclient_common.states import JOB_STATES

    states = _states()
    for name in JOB_STATES:
        assert states[name]["Resource"].endswith("batch:submitJob.sync")
        assert states[name]["ResultPath"] == f"$.results.{name}"


# What each Task returns on a run that succeeds: a Task given a list takes its outputs one visit after
# another, and FAILED stands for an error its Catch takes (a Spot host reclaimed under the first job).
FAILED = object()
SUCCESSFUL_RUN: dict[str, Any] = {
    "PrepareRun": {"accepted": True, "job": {}},
    "SubmitBuildJob": {"Status": "SUCCEEDED"},
    "CollectLogs": {"log": {}, "job": {}},
    "FinalizeRun": {"record": {"status": "SUCCEEDED"}, "notice": {}},
    "NotifyRun": {"sent": True},
}
SPOT_RERUN: dict[str, Any] = SUCCESSFUL_RUN | {
    "SubmitBuildJob": FAILED,
    "CollectLogs": [{"log": {}, "job": {}, "on_demand_job_queue": "nextstrain-job-queue-on-demand"}, {}],
    "RetryOnDemandJob": {"Status": "SUCCEEDED"},
}


_ABSENT = object()


def _read(data: dict[str, Any], path: str) -> Any:
    value: Any = data
    for name in path.removeprefix("$.").split("."):
        if not isinstance(value, dict) or name not in value:
            return _ABSENT
        value = value[name]
    return value


def _write(data: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.removeprefix("$.").split(".")
    for name in parents:
        data = data.setdefault(name, {})
    data[last] = value


def _matches(rule: dict[str, Any], data: dict[str, Any]) -> bool:
    """A Choice rule, for the comparisons the definition uses; any other fails the test rather than guess."""
    if "And" in rule:
        return all(_matches(r, data) for r in rule["And"])
    if "Or" in rule:
        return any(_matches(r, data) for r in rule["Or"])
    if "Not" in rule:
        return not _matches(rule["Not"], data)
    value = _read(data, rule["Variable"])
    if "IsPresent" in rule:
        return (value is not _ABSENT) == rule["IsPresent"]
    if "IsString" in rule:
        return isinstance(value, str) == rule["IsString"]
    if "BooleanEquals" in rule:
        return value is rule["BooleanEquals"]
    if "StringEquals" in rule:
        return value == rule["StringEquals"]
    raise AssertionError(f"a Choice rule this walk does not know: {rule}")


def _walk(outputs: dict[str, Any]) -> list[str]:
    """The states a run enters, from StartAt to its end, each Task returning (or failing with) its output."""
    document = yaml.safe_load(DEFINITION.read_text())
    states, name = document["States"], document["StartAt"]
    data: dict[str, Any] = {"run_id": "zika-0123456789", "results": {}, "errors": {}}
    entered: list[str] = []
    while True:
        entered.append(name)
        assert len(entered) < 50, f"the walk does not end: {entered}"
        state = states[name]
        if state["Type"] in ("Succeed", "Fail"):
            return entered
        if state["Type"] == "Choice":
            taken = [c["Next"] for c in state["Choices"] if _matches(c, data)]
            name = taken[0] if taken else state["Default"]
            continue
        given = outputs[name]
        output = given.pop(0) if isinstance(given, list) else given
        if output is FAILED:
            catch = next(c for c in state["Catch"] if "States.ALL" in c["ErrorEquals"])
            _write(data, catch["ResultPath"], {"Error": "States.TaskFailed", "Cause": "{}"})
            name = catch["Next"]
        else:
            _write(data, state["ResultPath"], output)
            name = state["Next"]


def test_the_cost_estimates_state_transitions_are_those_of_a_successful_run_and_a_spot_rerun() -> None:
    from nsclient_common.cost import TRANSITIONS_PER_RERUN, TRANSITIONS_PER_RUN

    run = _walk(dict(SUCCESSFUL_RUN))
    assert run[-1] == "RunSucceeded"
    assert len(run) == TRANSITIONS_PER_RUN
    rerun = _walk({name: list(o) if isinstance(o, list) else o for name, o in SPOT_RERUN.items()})
    assert rerun[-1] == "RunSucceeded" and rerun.count("RetryOnDemandJob") == 1
    assert len(rerun) - len(run) == TRANSITIONS_PER_RERUN
