"""The local backend's server process: moto on 127.0.0.1 with the stack created from template.yaml.

Started in the background by `nsclient local start`; writes state.json (endpoint, bucket, ...)
once ready, saves the bucket to disk as runs finish and on SIGTERM, and removes state.json on exit.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

import boto3

from nsclient.local import moto_patches, snapshot
from nsclient.local.stack import REGION, LocalStack, StackInfo

EXECUTION_STATUS_CHANGE = "Step Functions Execution Status Change"
ENDED = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")
STATE_FILE = "state.json"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def configure_process(endpoint_url: str, port: int) -> None:
    """The in-process handlers and moto's ASL executor talk to this server."""
    from moto.core.config import default_user_config

    default_user_config["stepfunctions"] = {"execute_state_machine": True}
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
    moto_patches.install()


class ExecutionWatcher(threading.Thread):
    """Publishes Step Functions' execution status changes to EventBridge (moto does not), and
    saves each finished run to disk."""

    def __init__(self, info: StackInfo, data_dir: Path):
        super().__init__(daemon=True, name="execution-watcher")
        self.info, self.data_dir = info, data_dir
        self.stopping = threading.Event()
        self._seen: set[str] = set()
        self._timers: list[threading.Timer] = []
        kwargs: dict[str, Any] = {"endpoint_url": info.endpoint_url, "region_name": REGION}
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
                    snapshot.save_run(self.s3, self.info.bucket, execution["name"], self.data_dir / "s3")

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
        timer = threading.Timer(
            5.0, snapshot.save_run, args=(self.s3, self.info.bucket, described["name"], self.data_dir / "s3")
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

    def __init__(self, data_dir: Path, port: int = 0, parameters: dict[str, str] | None = None):
        self.data_dir = data_dir
        self.port = port or free_port()
        self.endpoint_url = f"http://127.0.0.1:{self.port}"
        self.parameters = parameters or {}
        self.info: StackInfo | None = None
        self.stack: LocalStack | None = None
        self._server: Any = None
        self._watcher: ExecutionWatcher | None = None

    def start(self) -> StackInfo:
        from moto.server import ThreadedMotoServer

        self.data_dir.mkdir(parents=True, exist_ok=True)
        configure_process(self.endpoint_url, self.port)
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        self.stack = LocalStack(self.endpoint_url, self.data_dir, parameters=self.parameters)
        self.info = self.stack.create()
        restored = snapshot.restore(self.s3(), self.info.bucket, self.data_dir / "s3")
        self.stack.enable_upload_events()
        self._watcher = ExecutionWatcher(self.info, self.data_dir)
        self._watcher.start()
        print(f"local backend ready at {self.endpoint_url} (restored {restored} objects)", flush=True)
        return self.info

    def s3(self) -> Any:
        return boto3.client("s3", endpoint_url=self.endpoint_url, region_name=REGION)

    def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.stop()
        if self.info is not None:
            snapshot.save_prefix(self.s3(), self.info.bucket, "runs/", self.data_dir / "s3")
        if self._server is not None:
            self._server.stop()


def serve(data_dir: Path, port: int = 0) -> None:
    backend = LocalBackend(data_dir, port)
    info = backend.start()
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
    finally:
        state_file.unlink(missing_ok=True)
        backend.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--port", type=int, default=0)
    options = parser.parse_args()
    serve(options.data_dir, options.port)


if __name__ == "__main__":
    main()
