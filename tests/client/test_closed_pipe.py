"""A reader that stops early (`nsclient logs RUN | head`) ends the command quietly: no traceback, and the
exit status of a process ended by SIGPIPE, as Unix tools have."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime

import pytest

from nsclient.pipes import EXIT_CLOSED_PIPE
from nsclient_common.layout import log_key, record_key
from nsclient_common.record import RunRecord
from tests.client.helpers import Cli
from tests.support import Backend

LOG_LINES = 20_000  # far more than a pipe holds, so the command is still writing when the reader leaves


@pytest.fixture
def stored_run(quiet_cli: Cli, local_backend: Backend, quiet_bucket: str) -> str:
    """A finished run of the quiet machine's (the admin's), with a long archived log."""
    run_id = f"20260101T000000Z-piped-{uuid.uuid4().hex[:10]}"
    owner = local_backend.client("sts").get_caller_identity()["UserId"]
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    record = RunRecord(run_id=run_id, status="SUCCEEDED", submitted_at=now, owner=owner)
    s3 = local_backend.client("s3")
    s3.put_object(Bucket=quiet_bucket, Key=record_key(run_id, owner), Body=record.to_json())
    log = "".join(f"line {n} of the build's log\n" for n in range(LOG_LINES))
    s3.put_object(Bucket=quiet_bucket, Key=log_key(run_id, owner), Body=log.encode())
    return run_id


def test_logs_into_a_reader_that_takes_one_line_exits_quietly(quiet_cli: Cli, stored_run: str) -> None:
    process = quiet_cli.popen("logs", stored_run, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    first = process.stdout.readline()  # `| head -1`
    process.stdout.close()
    errors = process.stderr.read()
    code = process.wait(timeout=60)

    assert first == "line 0 of the build's log\n"
    assert errors == ""
    assert code == EXIT_CLOSED_PIPE == 141


@pytest.mark.parametrize("command", ["status", "list"])
def test_status_and_list_into_a_reader_already_gone_exit_quietly(command: str, quiet_cli: Cli, stored_run: str) -> None:
    """`nsclient status RUN | true`: the reader has left before the first line is written."""
    args = [command, stored_run] if command == "status" else [command]
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "nsclient", *args],
            stdout=write_end,
            stderr=subprocess.PIPE,
            env=quiet_cli.subprocess_env(),
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)

    assert done.stderr == ""
    assert done.returncode == EXIT_CLOSED_PIPE
