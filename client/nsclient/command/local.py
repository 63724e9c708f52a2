"""Start, stop or inspect the local backend: the whole pipeline on 127.0.0.1, no AWS account.

It runs the project's real state machine in a moto server, its Lambda handlers in-process and
each Batch job as a local process (snakemake from this Python environment). Finished runs'
records, logs, results and notices are kept on disk and survive stop and start. `status --json`
gives the S3 endpoint and bucket, so any S3 tool can drop a zip into inbox/ to start a run:

    aws --endpoint-url URL s3 cp build.zip s3://BUCKET/inbox/
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

from nsclient.command.common import add_parser, info
from nsclient.local import control
from nsclient.paths import local_backend_dir

if TYPE_CHECKING:
    import argparse

EXAMPLES = """
  nsclient local start
  nsclient local status --json
  nsclient local stop
  nsclient local stop --force    # also when runs are in progress: they end CANCELLED, with their logs and notices
"""


def register_parser(subparsers: Any, parent: argparse.ArgumentParser) -> None:
    parser = add_parser(subparsers, sys.modules[__name__], parent, EXAMPLES)
    parser.add_argument("action", choices=("start", "stop", "status"), metavar="<start|stop|status>")
    parser.add_argument(
        "--port", dest="port", type=int, default=0, metavar="<port>", help="Port for start (default: any free)"
    )
    parser.add_argument("--json", dest="json", action="store_true", help="status: print as JSON")
    parser.add_argument(
        "--force",
        dest="force",
        action="store_true",
        help="stop: also when runs are in progress (each ends CANCELLED, with its log and a notice)",
    )


def run(opts: argparse.Namespace) -> int:
    if opts.action == "start":
        state = control.start(port=opts.port, quiet=opts.quiet)
        info(f"Local backend running at {state['endpoint_url']} (bucket {state['bucket']}).", opts.quiet)
        return 0
    if opts.action == "stop":
        stopped = control.stop(force=opts.force, quiet=opts.quiet)
        info(
            "Local backend stopped; its runs are kept." if stopped else "The local backend was not running.", opts.quiet
        )
        return 0
    running = control.running_state()
    if opts.json:
        print(
            json.dumps(
                {"running": running is not None, "data_dir": str(local_backend_dir()), **(running or {})}, indent=2
            )
        )
        return 0
    if running is None:
        print(f"Not running (data in {local_backend_dir()}). Start it with `nsclient local start`.")
        return 0
    for key in ("endpoint_url", "bucket", "state_machine_arn", "topic_arn", "job_queue", "outbox", "pid"):
        print(f"{key + ':':<19}{running[key]}")
    return 0
