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
START_TIMEOUT = 90


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


def stop(data_dir: Path | None = None, timeout: float = 60) -> bool:
    """Stop the backend, letting it save its bucket to disk; False if it was not running."""
    state_file = (data_dir or local_backend_dir()) / STATE_FILE
    if not state_file.exists():
        return False
    pid = int(json.loads(state_file.read_text())["pid"])
    if not _alive(pid):
        state_file.unlink(missing_ok=True)
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.1)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
    return True
