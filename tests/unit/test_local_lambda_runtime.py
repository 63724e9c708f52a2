"""The local backend's Lambda runtime gives each invocation its own function's environment."""

from __future__ import annotations

import json
import os
import sys
import threading
from types import SimpleNamespace
from typing import TYPE_CHECKING

import pytest

from nsclient.local.lambda_runtime import LambdaRuntime, LocalFunction
from nsclient_common.payloads import LAMBDA_ASYNC_PAYLOAD_BYTES, LAMBDA_SYNC_PAYLOAD_BYTES
from tests.support import wait_until

if TYPE_CHECKING:
    from pathlib import Path

HANDLER = """\
from nsclient_common.settings import Settings
from test_meeting_point import both_running


def lambda_handler(event, context):
    before = Settings.from_env().bucket
    both_running.wait()  # the other function's invocation is in progress too
    return {"before": before, "after": Settings.from_env().bucket, "remaining": context.get_remaining_time_in_millis()}
"""


def test_functions_invoked_at_once_each_read_their_own_settings_and_leave_the_process_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Both handlers wait for each other, so that both invocations are in progress at once
    monkeypatch.setitem(
        sys.modules, "test_meeting_point", SimpleNamespace(both_running=threading.Barrier(2, timeout=10))
    )
    runtime = LambdaRuntime()
    for name in ("first", "second"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "app.py").write_text(HANDLER)
        runtime.functions[name] = LocalFunction(
            tmp_path / name, "app.lambda_handler", {"BUCKET_NAME": f"{name}-bucket"}, timeout_seconds=60
        )
    before = dict(os.environ)
    results: dict[str, tuple[str, bool]] = {}

    def invoke(name: str) -> None:
        results[name] = runtime.invoke(name, {})

    threads = [threading.Thread(target=invoke, args=(name,)) for name in ("first", "second")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    for name in ("first", "second"):
        payload, errored = results[name]
        assert not errored, payload
        seen = json.loads(payload)
        assert (seen["before"], seen["after"]) == (f"{name}-bucket", f"{name}-bucket")
        assert 0 < seen["remaining"] <= 60_000
    assert dict(os.environ) == before


def test_a_handler_that_raises_is_an_error_payload_and_an_unknown_function_is_not_found(tmp_path: Path) -> None:
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "app.py").write_text("def lambda_handler(event, context):\n    raise KeyError('x')\n")
    runtime = LambdaRuntime()
    runtime.functions["broken"] = LocalFunction(tmp_path / "broken", "app.lambda_handler", {})

    payload, errored = runtime.invoke("broken", {})
    missing, missing_errored = runtime.invoke("absent", {})

    assert errored and json.loads(payload)["errorType"] == "KeyError"
    assert missing_errored and json.loads(missing) == {"errorType": "ResourceNotFound", "errorMessage": "absent"}


ECHO = "calls = []\n\ndef lambda_handler(event, context):\n    calls.append(event)\n    return {'echo': event}\n"


def _echo(tmp_path: Path) -> LambdaRuntime:
    (tmp_path / "echo").mkdir()
    (tmp_path / "echo" / "app.py").write_text(ECHO)
    runtime = LambdaRuntime()
    runtime.functions["echo"] = LocalFunction(tmp_path / "echo", "app.lambda_handler", {})
    return runtime


def test_a_request_or_response_over_lambdas_limit_is_an_error_and_the_handler_never_sees_a_large_request(
    tmp_path: Path,
) -> None:
    runtime = _echo(tmp_path)
    handler_calls = runtime.functions["echo"].load().__globals__["calls"]

    request, request_errored = runtime.invoke("echo", {"x": "z" * LAMBDA_SYNC_PAYLOAD_BYTES})
    response, response_errored = runtime.invoke("echo", {"x": "z" * (LAMBDA_SYNC_PAYLOAD_BYTES - 10)})
    fits, fits_errored = runtime.invoke("echo", {"x": "z"})

    assert request_errored and json.loads(request)["errorType"] == "RequestTooLargeException"
    assert response_errored and json.loads(response)["errorType"] == "Function.ResponseSizeTooLarge"
    assert not fits_errored and json.loads(fits) == {"echo": {"x": "z"}}
    assert len(handler_calls) == 2  # the response too large and the one that fits


def test_an_asynchronous_event_over_lambdas_limit_is_never_delivered(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runtime = _echo(tmp_path)
    handler_calls = runtime.functions["echo"].load().__globals__["calls"]

    runtime.invoke_async("echo", {"x": "z" * LAMBDA_ASYNC_PAYLOAD_BYTES}, "arn")

    assert handler_calls == []
    assert "RequestTooLargeException" in capsys.readouterr().err


QUEUED = """\
from test_async_instances import state


def lambda_handler(event, context):
    with state.lock:
        state.running += 1
        state.most = max(state.most, state.running)
    state.release.wait(timeout=30)
    with state.lock:
        state.running -= 1
        state.done.append(event["n"])
"""


def test_asynchronous_events_queue_for_the_accounts_instances_and_every_one_is_invoked_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an account with two instances for asynchronous events, and a function that holds each one
    state = SimpleNamespace(lock=threading.Lock(), release=threading.Event(), running=0, most=0, done=[])
    monkeypatch.setitem(sys.modules, "test_async_instances", SimpleNamespace(state=state))
    (tmp_path / "held").mkdir()
    (tmp_path / "held" / "app.py").write_text(QUEUED)
    runtime = LambdaRuntime(async_concurrency=2)
    runtime.functions["held"] = LocalFunction(tmp_path / "held", "app.lambda_handler", {})

    # When six events arrive at once
    for n in range(6):
        runtime.invoke_async("held", {"n": n}, "arn")

    # Then two are invoked and the other four wait in the queue
    wait_until(lambda: state.running == 2, timeout=30, what="two invocations running")
    assert (state.running, state.done) == (2, [])
    # And once the function lets them go, every event is invoked exactly once, never more than two at a time
    state.release.set()
    wait_until(lambda: len(state.done) == 6, timeout=30, what="all six events invoked")
    assert sorted(state.done) == list(range(6))
    assert state.most == 2
