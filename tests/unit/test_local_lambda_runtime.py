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
