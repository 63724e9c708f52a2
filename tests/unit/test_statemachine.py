"""Static checks of the state machine definition: it parses, every transition lands on a state,
every Task retries and catches, and the states the code names (in results paths and job lookups)
exist. No AWS needed."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
import yaml

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


def _state_reads(tree: ast.AST) -> set[tuple[str, str]]:
    """(results or errors, state) for each state name the code looks up in the execution's results or errors:
    `"X" in event.errors`, `event.results.get("X")`, and `for state in ("X", ...): if state in errors`."""
    kinds = ("results", "errors")

    def kind_of(node: ast.AST) -> str | None:
        name = node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else None
        return name if name in kinds else None

    reads: set[tuple[str, str]] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and isinstance(node.ops[0], ast.In):
            kind = kind_of(node.comparators[0])
            if kind and isinstance(node.left, ast.Constant) and isinstance(node.left.value, str):
                reads.add((kind, node.left.value))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get":
            kind = kind_of(node.func.value)
            first = node.args[0] if node.args else None
            if kind and isinstance(first, ast.Constant) and isinstance(first.value, str):
                reads.add((kind, first.value))
        elif isinstance(node, ast.For) and isinstance(node.target, ast.Name) and isinstance(node.iter, ast.Tuple):
            variable = node.target.id
            for inner in ast.walk(node):
                if (
                    isinstance(inner, ast.Compare)
                    and isinstance(inner.left, ast.Name)
                    and inner.left.id == variable
                    and (kind := kind_of(inner.comparators[0]))
                ):
                    reads |= {
                        (kind, e.value)
                        for e in node.iter.elts
                        if isinstance(e, ast.Constant) and isinstance(e.value, str)
                    }
    return reads


def _written() -> set[str]:
    states = _states()
    written = {s["ResultPath"] for s in states.values() if "ResultPath" in s}
    return written | {c["ResultPath"] for s in states.values() for c in s.get("Catch", [])}


def test_statemachine_writes_the_results_and_errors_of_every_state_the_code_names() -> None:
    from nsclient_common import states as named

    names = [value for key, value in vars(named).items() if key.isupper() and isinstance(value, str)]
    assert set(named.JOB_STATES) <= set(names)
    written = _written()
    unwritten = [f"$.{kind}.{name}" for name in names for kind in ("results", "errors")]
    assert not [path for path in unwritten if path not in written], "the code names what no state writes"


def test_the_code_looks_up_states_by_their_names_in_nsclient_common_states() -> None:
    # A lookup by a literal name would escape the check above; the scan is shown to find one.
    assert _state_reads(ast.parse('event.results.get("CollectLogs")\n"PrepareRun" in errors')) == {
        ("results", "CollectLogs"),
        ("errors", "PrepareRun"),
    }
    sources = [*(ROOT / "functions").rglob("*.py"), *(ROOT / "client" / "nsclient").rglob("*.py")]
    reads = {str(path.relative_to(ROOT)): _state_reads(ast.parse(path.read_text())) for path in sources}
    assert not {path: found for path, found in reads.items() if found}


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
