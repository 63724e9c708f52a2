"""The local backend's server process: moto on 127.0.0.1 with the stack created from template.yaml.

Started in the background by `nsclient local start`; writes state.json (endpoint, bucket, ...)
once ready, saves the bucket to disk as runs finish and on SIGTERM, and removes state.json on exit.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from nsclient.local import invocation_credentials, memory_profile, moto_fixes, snapshot
from nsclient.local import strict_iam as iam_enforcement
from nsclient.local.control import ADMIN_FILE, STATE_FILE, running_executions
from nsclient.local.runtime import LocalRuntime
from nsclient.local.stack import REGION, LocalStack, StackInfo
from nsclient.local.strict_iam import UNCHECKED_NOTICE, EvaluatorMissing, strict_iam_wanted
from nsclient_common.execution import ExecutionInput
from nsclient_common.failure import CANCEL_REASON

if TYPE_CHECKING:
    from collections.abc import Mapping

    from nsclient.local.principals import Credentials

EXECUTION_STATUS_CHANGE = "Step Functions Execution Status Change"
ENDED = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")
# Strict IAM's decisions, in the data folder.
DECISIONS_FILE = "iam-decisions.jsonl"
# Why the jobs of runs still in progress end when the backend stops: their runs end CANCELLED, saying so.
BACKEND_STOPPED_REASON = f"{CANCEL_REASON}: the local backend was stopped"
# How long the runs in progress get to archive their logs and send their notices once their jobs are ended.
RUNS_END_SECONDS = 90
# glibc's malloc arenas for the backend (mallopt's M_ARENA_MAX; its default is eight a core).
MALLOC_ARENAS = 2
M_ARENA_MAX = -8


def hold_malloc_arenas(count: int = MALLOC_ARENAS) -> None:
    """Every request, function invocation and job watcher is a thread of this one process, and glibc gives
    threads arenas of their own that keep what they freed: 25 MB of the backend's peak with fifty pushes at
    once (367 MB with glibc's default, 342 MB held to two, on two cores). Called before any thread starts;
    a no-op without glibc, or when the environment sets MALLOC_ARENA_MAX itself (glibc has read it then)."""
    if "MALLOC_ARENA_MAX" in os.environ:
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    libc.mallopt(M_ARENA_MAX, count)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def configure_process(endpoint_url: str, port: int, runtime: LocalRuntime) -> None:
    """The in-process handlers and moto's ASL executor talk to this server; moto runs functions and jobs
    with the runtime."""
    from moto.core.config import default_user_config

    default_user_config["stepfunctions"] = {"execute_state_machine": True}
    # SAM attaches AWS managed policies (AWSLambdaBasicExecutionRole, ...) to the roles it makes.
    default_user_config["iam"] = {"load_aws_managed_policies": True}
    os.environ.update(
        {
            "MOTO_PORT": str(port),
            "AWS_ENDPOINT_URL": endpoint_url,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_DISABLED": "true",
        }
    )
    moto_fixes.install(runtime)
    invocation_credentials.install()


class ExecutionWatcher(threading.Thread):
    """Publishes Step Functions' execution status changes to EventBridge (moto does not), and
    saves each finished run to disk."""

    def __init__(self, info: StackInfo, data_dir: Path, credentials: Credentials):
        super().__init__(daemon=True, name="execution-watcher")
        self.info, self.data_dir = info, data_dir
        self.stopping = threading.Event()
        self._seen: set[str] = set()
        self._timers: list[threading.Timer] = []
        # It plays AWS itself (Step Functions' status events), so it acts as the administrator.
        kwargs: dict[str, Any] = {
            "endpoint_url": info.endpoint_url,
            "region_name": REGION,
            **credentials.client_kwargs(),
        }
        self.sfn = boto3.client("stepfunctions", **kwargs)
        self.events = boto3.client("events", **kwargs)
        self.s3 = boto3.client("s3", **kwargs)

    def run(self) -> None:
        while not self.stopping.wait(0.3):
            try:
                self.poll()
            except Exception as error:  # keep watching: one bad poll must not end the backstop
                print(f"watcher: {error!r}", file=sys.stderr, flush=True)

    def poll(self) -> None:
        pages = self.sfn.get_paginator("list_executions").paginate(stateMachineArn=self.info.state_machine_arn)
        for page in pages:
            for execution in page["executions"]:
                arn, status = execution["executionArn"], execution["status"]
                if status not in ENDED or arn in self._seen:
                    continue
                self._seen.add(arn)
                if status != "SUCCEEDED":
                    self.publish(arn)
                else:
                    owner = self.owner_of(self.sfn.describe_execution(executionArn=arn))
                    snapshot.save_run(self.s3, self.info.bucket, execution["name"], owner, self.data_dir / "s3")

    @staticmethod
    def owner_of(described: Mapping[str, Any]) -> str | None:
        execution = ExecutionInput.from_json(described.get("input"))
        return execution.owner if execution else None

    def publish(self, arn: str) -> None:
        described = self.sfn.describe_execution(executionArn=arn)
        detail = {
            "executionArn": arn,
            "stateMachineArn": self.info.state_machine_arn,
            "name": described["name"],
            "status": described["status"],
            "input": described.get("input"),
            "error": described.get("error"),
            "cause": described.get("cause"),
        }
        self.events.put_events(
            Entries=[
                {
                    "Source": "aws.states",
                    "DetailType": EXECUTION_STATUS_CHANGE,
                    "Detail": json.dumps(detail),
                    "Resources": [arn],
                }
            ]
        )
        owner = self.owner_of(described)
        timer = threading.Timer(
            5.0, snapshot.save_run, args=(self.s3, self.info.bucket, described["name"], owner, self.data_dir / "s3")
        )
        self._timers = [t for t in self._timers if t.is_alive()] + [timer]
        timer.start()

    def stop(self) -> None:
        """Stop watching; saves not yet due are dropped (the backend saves all of runs/ as it stops)."""
        self.stopping.set()
        for timer in self._timers:
            timer.cancel()


class LocalBackend:
    """The moto server with the stack created in it; in this process."""

    def __init__(
        self, data_dir: Path, port: int = 0, parameters: dict[str, str] | None = None, strict_iam: bool | None = None
    ):
        self.data_dir = data_dir
        self.port = port or free_port()
        self.endpoint_url = f"http://127.0.0.1:{self.port}"
        self.parameters = parameters or {}
        self.strict_iam = strict_iam_wanted() if strict_iam is None else strict_iam
        self.info: StackInfo | None = None
        self.runtime = LocalRuntime.for_endpoint(self.endpoint_url, REGION)
        self.stack: LocalStack | None = None
        self.enforcement: iam_enforcement.Enforcement | None = None
        self._server: Any = None
        self._watcher: ExecutionWatcher | None = None

    @property
    def admin_credentials(self) -> Credentials:
        assert self.stack is not None and self.stack.admin_credentials is not None, "the backend is not started"
        return self.stack.admin_credentials

    def start(self) -> StackInfo:
        from moto.server import ThreadedMotoServer

        self.data_dir.mkdir(parents=True, exist_ok=True)
        configure_process(self.endpoint_url, self.port, self.runtime)
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        evaluator = iam_enforcement.Evaluator() if self.strict_iam else None  # fail before anything starts
        self.stack = LocalStack(self.endpoint_url, self.data_dir, self.runtime, parameters=self.parameters)
        self.info = self.stack.create()
        admin_file = self.data_dir / ADMIN_FILE
        admin_file.write_text(json.dumps(self.admin_credentials.to_dict()))
        admin_file.chmod(0o600)
        restored = snapshot.restore(self.s3(), self.info.bucket, self.data_dir / "s3")
        self.stack.enable_upload_events()
        if evaluator is not None:
            decisions = self.data_dir / DECISIONS_FILE
            decisions.unlink(missing_ok=True)
            self.enforcement = iam_enforcement.Enforcement(
                evaluator,
                frozenset({self.admin_credentials.access_key_id}),
                record_to=decisions,
                port=self.port,
            )
            iam_enforcement.enforce(self.enforcement)
        self._watcher = ExecutionWatcher(self.info, self.data_dir, self.admin_credentials)
        self._watcher.start()
        mode = "strict IAM" if self.strict_iam else "IAM not checked"
        print(f"local backend ready at {self.endpoint_url} ({mode}; restored {restored} objects)", flush=True)
        if not self.strict_iam:
            print(UNCHECKED_NOTICE, flush=True)
        return self.info

    def s3(self) -> Any:
        return boto3.client(
            "s3", endpoint_url=self.endpoint_url, region_name=REGION, **self.admin_credentials.client_kwargs()
        )

    def runs_in_progress(self) -> list[str]:
        """The run ids of the executions still running."""
        assert self.info is not None, "the backend is not started"
        sfn = boto3.client(
            "stepfunctions",
            endpoint_url=self.endpoint_url,
            region_name=REGION,
            **self.admin_credentials.client_kwargs(),
        )
        return running_executions(sfn, self.info.state_machine_arn)

    def end_runs_in_progress(self, timeout: float = RUNS_END_SECONDS) -> None:
        """End every run still in progress as Batch would end its job on a TerminateJob, so that each
        archives its log and sends its notice (CANCELLED, the backend stopped); then no job's process
        may outlive the backend."""
        batch = self.runtime.batch
        try:
            running = self.runs_in_progress() if self.info is not None else []
            if running or batch.jobs_in_progress():
                print(f"local backend: stopping; ending the runs in progress: {', '.join(running)}", flush=True)
            deadline = time.monotonic() + timeout
            while running and time.monotonic() < deadline:
                batch.terminate_all(BACKEND_STOPPED_REASON)  # also jobs submitted since the last look
                time.sleep(0.3)
                running = self.runs_in_progress()
            if running:
                print(f"local backend: runs not ended within {timeout:.0f} s: {', '.join(running)}", flush=True)
        except (BotoCoreError, ClientError) as error:  # the jobs are ended all the same
            print(f"local backend: runs in progress not listed: {error}", file=sys.stderr, flush=True)
        finally:
            batch.terminate_all(BACKEND_STOPPED_REASON)
            if not batch.wait_until_idle(10):
                batch.kill_all()
                batch.wait_until_idle(10)

    def stop(self) -> None:
        self.end_runs_in_progress()
        if self._watcher is not None:
            self._watcher.stop()
        try:
            if self.info is not None:
                snapshot.save_prefix(self.s3(), self.info.bucket, "runs/", self.data_dir / "s3")
        except ClientError as error:  # the server stops all the same; the runs saved as they ended remain
            print(f"local backend: runs/ not saved on stop: {error}", file=sys.stderr, flush=True)
        finally:
            if self._server is not None:
                self._server.stop()
            if self.enforcement is not None:
                self.enforcement.evaluator.close()


def serve(data_dir: Path, port: int = 0, parameters: dict[str, str] | None = None) -> None:
    backend = LocalBackend(data_dir, port, parameters)
    info = backend.start()
    memory_profile.start_if_asked()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    state = {**info.to_dict(), "pid": os.getpid(), "started_at": time.time()}
    state_file = data_dir / STATE_FILE
    partial = state_file.with_suffix(".partial")
    partial.write_text(json.dumps(state, indent=2))
    partial.replace(state_file)
    try:
        stop.wait()
        # While clients still find the backend: they can follow the runs in progress to their end.
        backend.end_runs_in_progress()
    finally:
        state_file.unlink(missing_ok=True)
        backend.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument(
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a template parameter, as sam deploy --parameter-overrides takes it (e.g. CreateBatchEnvironment=true)",
    )
    options = parser.parse_args()
    hold_malloc_arenas()
    malformed = [p for p in options.parameter if "=" not in p]
    if malformed:
        parser.error(f"--parameter takes NAME=VALUE, not {malformed[0]!r}")
    try:
        serve(options.data_dir, options.port, dict(p.split("=", 1) for p in options.parameter))
    except EvaluatorMissing as error:
        sys.exit(str(error))


if __name__ == "__main__":
    main()
