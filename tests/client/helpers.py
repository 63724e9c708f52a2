"""Running nsclient as a user does, against the in-process local backend (tests/conftest.py).

A `Cli` is one user's machine: its own NEXTSTRAIN_HOME (config file, pushes.json) and its own
NSCLIENT_LOCAL_DIR, whose state.json points at the test's local backend. Commands run in this
process (`cli("status", RUN)`) or as `python -m nsclient` (`cli.popen(...)`), which reaches the
backend over HTTP.

Only the variables named here are set and put back around a command: the local backend's Lambda
handlers run in this process's threads and read os.environ while runs go on.

In this process, the client's check that the local backend answers (an HTTP request with a 2 s
timeout, local/control.py) is told that the test's own backend does: that server shares this
process's interpreter with every run in flight, so under load it can answer late, and a late
answer would make the client start a second backend of its own.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from unittest import mock

from nsclient.cli import run
from nsclient.local import control
from tests.support import run_nsclient, wait_until

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from nsclient.local.principals import Credentials
    from tests.support import Backend

# Settings a developer's shell may carry, which would leak into the tests.
USER_SETTINGS = (
    "NEXTSTRAIN_CONFIG",
    "NSCLIENT_BACKEND",
    "NSCLIENT_STACK",
    "NSCLIENT_REGION",
    "NSCLIENT_BUCKET",
    "NSCLIENT_QUEUE",
    "NSCLIENT_STATE_MACHINE",
    "NSCLIENT_TOPIC",
    "NSCLIENT_NOTIFY",
    "NSCLIENT_DEBUG",
    "NEXTSTRAIN_AWS_BATCH_S3_BUCKET",
    "NEXTSTRAIN_AWS_BATCH_JOB",
    "NEXTSTRAIN_AWS_BATCH_QUEUE",
    "NEXTSTRAIN_AWS_BATCH_CPUS",
    "NEXTSTRAIN_AWS_BATCH_MEMORY",
    "NEXTSTRAIN_RUNTIME_ENVDIRS",
)

SNAKEFILE_SLEEPS = """\
rule all:
    input: "results/slept.txt"

rule nap:
    output: "results/slept.txt"
    shell: "echo napping && sleep {seconds} && echo woke > {{output}}"
"""

# A build that runs until the test creates the file {barrier} (or 4 minutes pass): the local
# backend's jobs run on this machine, so a test can hold one RUNNING for as long as it needs.
SNAKEFILE_HELD = """\
rule all:
    input: "results/released.txt"

rule hold:
    output: "results/released.txt"
    shell:
        "echo holding; "
        "for i in $(seq 1200); do [ -e '{barrier}' ] && break; sleep 0.2; done; "
        "echo released | tee {{output}}"
"""


@contextlib.contextmanager
def environ(values: Mapping[str, str | None]) -> Iterator[None]:
    """Set (or, for None, remove) these variables only, and put them back afterwards."""
    saved = {name: os.environ.get(name) for name in values}
    try:
        for name, value in values.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class _ThisThreadOnly(io.TextIOBase):
    """sys.stdout or sys.stderr for one command: what this thread writes is captured, what the
    local backend's threads write (its handlers log to stdout) passes through."""

    def __init__(self, original: Any):
        self.original = original
        self.captured = io.StringIO()
        self.owner = threading.get_ident()
        self.active = True

    def write(self, text: str) -> int:
        if self.active and threading.get_ident() == self.owner:
            return self.captured.write(text)
        with contextlib.suppress(ValueError):  # a stream pytest has closed since
            self.original.write(text)
        return len(text)

    def flush(self) -> None:
        with contextlib.suppress(ValueError):
            self.original.flush()

    def isatty(self) -> bool:
        return False


@contextlib.contextmanager
def captured_output() -> Iterator[tuple[_ThisThreadOnly, _ThisThreadOnly]]:
    out, err = _ThisThreadOnly(sys.stdout), _ThisThreadOnly(sys.stderr)
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err
    try:
        yield out, err
    finally:
        sys.stdout, sys.stderr = saved
        out.active = err.active = False


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]

    def json(self) -> Any:
        return json.loads(self.out)


@dataclass
class Cli:
    home: Path
    env: dict[str, str | None] = field(default_factory=dict)
    endpoint_url: str | None = None  # of the test's local backend, once pointed at it

    def __post_init__(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.env = {
            **dict.fromkeys(USER_SETTINGS),
            "NEXTSTRAIN_HOME": str(self.home),
            "NSCLIENT_LOCAL_DIR": str(self.local_dir),
            **self.env,
        }

    @property
    def local_dir(self) -> Path:
        return self.home / "local-backend"

    @property
    def config_file(self) -> Path:
        return self.home / "config"

    def point_at(self, backend: Backend) -> Cli:
        """Make the test's local backend this machine's running local backend."""
        self.local_dir.mkdir(parents=True, exist_ok=True)
        state = {**backend.info.to_dict(), "pid": os.getpid(), "started_at": time.time()}
        (self.local_dir / "state.json").write_text(json.dumps(state))
        self.endpoint_url = backend.info.endpoint_url
        return self

    def stop_strays(self) -> None:
        """Stop a local backend this machine started on its own (if it found ours not answering),
        so that no daemon outlives the tests."""
        state_file = self.local_dir / "state.json"
        if state_file.exists():
            pid = int(json.loads(state_file.read_text())["pid"])
            if pid != os.getpid():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)

    def write_config(self, text: str) -> None:
        self.config_file.write_text(text)

    def pushes(self) -> dict[str, str]:
        path = self.home / "nsclient" / "pushes.json"
        return json.loads(path.read_text()) if path.exists() else {}

    def __call__(self, *args: str, env: Mapping[str, str | None] | None = None) -> Result:
        """`nsclient ARGS` in this process; a usage error's exit (argparse) becomes its code."""
        probe = control._answers

        def answers(endpoint_url: str) -> bool:
            return endpoint_url == self.endpoint_url or probe(endpoint_url)

        with (
            environ({**self.env, **(env or {})}),
            mock.patch.object(control, "_answers", answers),
            captured_output() as (out, err),
        ):
            try:
                code = run(list(args))
            except SystemExit as exit_:
                code = exit_.code if isinstance(exit_.code, int) else 1
        return Result(code, out.captured.getvalue(), err.captured.getvalue())

    def subprocess_env(self, env: Mapping[str, str | None] | None = None) -> dict[str, str]:
        merged = {**os.environ}
        for name, value in {**self.env, **(env or {})}.items():
            if value is None:
                merged.pop(name, None)
            else:
                merged[name] = value
        return merged

    def popen(self, *args: str, env: Mapping[str, str | None] | None = None, **kwargs: Any) -> subprocess.Popen[str]:
        """`python -m nsclient ARGS` as its own process (text mode)."""
        return subprocess.Popen(
            [sys.executable, "-m", "nsclient", *args], env=self.subprocess_env(env), text=True, **kwargs
        )

    def process(self, *args: str, env: Mapping[str, str | None] | None = None, timeout: float = 60) -> Result:
        """`python -m nsclient ARGS` to its end."""
        done = run_nsclient(*args, env=self.subprocess_env(env), timeout=timeout)
        return Result(done.returncode, done.stdout, done.stderr)


def aws_config(backend: Backend, bucket: str | None = None) -> str:
    """A config file for the aws backend kind, naming the local backend's resources (reached
    through AWS_ENDPOINT_URL, as boto3 honours it)."""
    info = backend.info
    return f"""\
[nsclient]
backend = aws
region = {info.region}
bucket = {bucket or info.bucket}
queue = {info.job_queue}
state-machine = {info.state_machine_arn}
topic = {info.topic_arn}
"""


def aws_env(backend: Backend, credentials: Credentials | None = None) -> dict[str, str | None]:
    """The aws backend kind reaching the local backend (boto3 honours AWS_ENDPOINT_URL) as a person
    in the stack's users group, or with other credentials."""
    keys = credentials or backend.user
    return {
        "AWS_ENDPOINT_URL": backend.info.endpoint_url,
        "AWS_ACCESS_KEY_ID": keys.access_key_id,
        "AWS_SECRET_ACCESS_KEY": keys.secret_access_key,
        "AWS_SESSION_TOKEN": keys.session_token,
    }


def aws_machine(home: Path, backend: Backend, credentials: Credentials | None = None, bucket: str | None = None) -> Cli:
    """A machine set up for a deployed stack (the aws backend kind, from its config file), with a person's
    keys: those of the stack's users group unless others are given."""
    machine = Cli(home, env=aws_env(backend, credentials))
    machine.write_config(aws_config(backend, bucket=bucket))
    return machine


def build_folder(path: Path, snakefile: str, files: dict[str, str] | None = None) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "Snakefile").write_text(snakefile)
    for name, content in (files or {}).items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(content)
    return path


def wait_for_status(cli: Cli, run_id: str, wanted: str, timeout: float = 60) -> dict[str, Any]:
    """Poll `nsclient status --json` until the run is `wanted`."""

    def record_once_wanted() -> dict[str, Any] | None:
        result = cli("status", run_id, "--json")
        record: dict[str, Any] | None = result.json() if result.code == 0 else None
        return record if record is not None and record["status"] == wanted else None

    return wait_until(record_once_wanted, timeout=timeout, what=f"run {run_id} became {wanted}", interval=0.5)
