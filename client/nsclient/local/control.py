"""Start, stop and find the local backend's server process (client side)."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from nsclient.errors import UserError
from nsclient.paths import local_backend_dir

STATE_FILE = "state.json"
# The administrator's keys, in the data folder: for looking on (the tests, and stop's look at the runs in progress).
ADMIN_FILE = "admin.json"
START_TIMEOUT = 90
# Long enough for the backend to end the runs in progress (daemon.RUNS_END_SECONDS) and save its bucket.
STOP_TIMEOUT = 150


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # An exited server whose parent is gone may linger as a zombie until reaped.
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _answers(endpoint_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{endpoint_url}/moto-api/", timeout=2):  # noqa: S310 - loopback only
            return True
    except OSError:
        return False


def running_state(data_dir: Path | None = None, patience: float = 10.0) -> dict[str, Any] | None:
    """The running backend's state, or None. A backend whose process is gone is cleaned up after;
    one that is alive but slow to answer (a loaded machine) is waited for, never replaced."""
    state_file = (data_dir or local_backend_dir()) / STATE_FILE
    if not state_file.exists():
        return None
    state: dict[str, Any] = json.loads(state_file.read_text())
    deadline = time.monotonic() + patience
    while _alive(int(state["pid"])):
        if _answers(state["endpoint_url"]):
            return state
        if time.monotonic() > deadline:
            raise UserError(
                f"The local backend (pid {state['pid']}) is running but not answering at {state['endpoint_url']}. "
                "Try again, or restart it with `nsclient local stop` and `nsclient local start`."
            )
        time.sleep(0.5)
    state_file.unlink(missing_ok=True)
    return None


def start(data_dir: Path | None = None, port: int = 0, quiet: bool = False) -> dict[str, Any]:
    data_dir = data_dir or local_backend_dir()
    data_dir.mkdir(parents=True, exist_ok=True)
    # Commands run at the same moment must not each start a server on the same data.
    with (data_dir / "start.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return running_state(data_dir) or _spawn(data_dir, port, quiet)


def _spawn(data_dir: Path, port: int, quiet: bool) -> dict[str, Any]:
    from nsclient.local.strict_iam import UNCHECKED_NOTICE, evaluator_missing, strict_iam_wanted

    if not strict_iam_wanted():
        print(UNCHECKED_NOTICE, file=sys.stderr)  # even when quiet: it is why a call AWS refuses works here
    else:
        missing = evaluator_missing()
        if missing is not None:
            raise UserError(missing)
    log_path = data_dir / "backend.log"
    if not quiet:
        print(f"Starting the local backend (log: {log_path}) ...", file=sys.stderr)
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "nsclient.local.daemon", "--data-dir", str(data_dir), "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # outlives this command
        )
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        state = running_state(data_dir)
        if state is not None:
            return state
        if process.poll() is not None:
            tail = log_path.read_text(errors="replace").splitlines()[-15:]
            raise UserError("The local backend failed to start:\n" + "\n".join(tail))
        time.sleep(0.2)
    process.terminate()
    raise UserError(f"The local backend did not start within {START_TIMEOUT} s; see {log_path}.")


def ensure_running() -> dict[str, Any]:
    return running_state() or start()


def running_executions(sfn: Any, state_machine_arn: str) -> list[str]:
    """The names (run ids) of the state machine's executions still running."""
    pages = sfn.get_paginator("list_executions").paginate(stateMachineArn=state_machine_arn, statusFilter="RUNNING")
    return [execution["name"] for page in pages for execution in page["executions"]]


def runs_in_progress(state: dict[str, Any], data_dir: Path) -> list[str]:
    """The run ids of the backend's runs in progress (everyone's: looked at as its administrator)."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    from nsclient.local.principals import Credentials

    admin = Credentials.from_dict(json.loads((data_dir / ADMIN_FILE).read_text()))
    sfn = boto3.client(
        "stepfunctions",
        endpoint_url=state["endpoint_url"],
        region_name=state["region"],
        **admin.client_kwargs(),
        config=Config(connect_timeout=5, read_timeout=30, retries={"max_attempts": 2}),
    )
    try:
        return running_executions(sfn, state["state_machine_arn"])
    except (BotoCoreError, ClientError) as error:
        raise UserError(
            f"Could not list the local backend's runs in progress ({error}); "
            "`nsclient local stop --force` stops it all the same, ending any run still in progress."
        ) from error


def stop(data_dir: Path | None = None, timeout: float = STOP_TIMEOUT, force: bool = False, quiet: bool = False) -> bool:
    """Stop the backend, letting it end the runs in progress (with their logs and notices) and save its
    bucket to disk; False if it was not running. Without force, runs in progress make it refuse."""
    data_dir = data_dir or local_backend_dir()
    state_file = data_dir / STATE_FILE
    if not state_file.exists():
        return False
    state = json.loads(state_file.read_text())
    pid = int(state["pid"])
    if not _alive(pid):
        state_file.unlink(missing_ok=True)
        return False
    try:
        running = runs_in_progress(state, data_dir)
    except UserError:
        if not force:
            raise
        running = []  # the backend ends whatever is in progress all the same
    if running and not force:
        raise UserError(
            f"The local backend has runs in progress ({', '.join(running)}): stopping it would cancel them, "
            "so wait for them to end, or stop it anyway with `nsclient local stop --force`."
        )
    if running and not quiet:
        print(
            f"Cancelling the runs in progress ({', '.join(running)}), with their logs and notices ...", file=sys.stderr
        )
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.1)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
    return True
