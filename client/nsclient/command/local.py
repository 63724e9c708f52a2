"""Start, stop or inspect the local backend: the whole pipeline on 127.0.0.1, no AWS account.

It runs the project's real state machine in a moto server, its Lambda handlers in-process and
each Batch job as a local process (snakemake from this Python environment). Finished runs'
records, logs, results and notices are kept on disk and survive stop and start.

`env` prints the shell lines that point the AWS CLI and boto3 at it, as the local person (its keys,
endpoint and region), with the bucket and your inbox folder, so any S3 tool can start a run:

    eval "$(nsclient local env)"
    aws s3 cp build.zip "$NSCLIENT_LOCAL_INBOX" --metadata cpus=2

`outbox` lists the notices the local backend has emailed (one .eml file each), newest first.
"""

from __future__ import annotations

import json
import shlex
import sys
from datetime import datetime
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nsclient.backend import connect
from nsclient.command.common import add_parser, info
from nsclient.local import control
from nsclient.paths import local_backend_dir
from nsclient_common.layout import inbox_prefix, s3_url

if TYPE_CHECKING:
    import argparse

    from nsclient.backend import Backend

EXAMPLES = """
  nsclient local start
  nsclient local status --json
  nsclient local outbox          # the notices emailed, newest first
  eval "$(nsclient local env)"; aws s3 ls "s3://$NSCLIENT_LOCAL_BUCKET/runs/"
  nsclient local stop
  nsclient local stop --force    # also when runs are in progress: they end CANCELLED, with their logs and notices
"""


def shell_environment(backend: Backend) -> str:
    """`export` lines reaching the local backend as its person: their keys (a profile set in the shell would
    take the place of keys in the environment, so it is unset), its endpoint and region, the bucket and
    their inbox folder (a zip dropped there is their run)."""
    inbox = s3_url(backend.bucket, inbox_prefix(backend.caller_id()))
    exports = {
        "AWS_ENDPOINT_URL": backend.endpoint_url or "",
        "AWS_ACCESS_KEY_ID": backend.access_key_id,
        "AWS_SECRET_ACCESS_KEY": backend.secret_access_key,
        "AWS_DEFAULT_REGION": backend.region,
        "AWS_REGION": backend.region,
        "NSCLIENT_LOCAL_BUCKET": backend.bucket,
        "NSCLIENT_LOCAL_INBOX": inbox,
    }
    lines = ["unset AWS_PROFILE AWS_SESSION_TOKEN"]
    lines += [f"export {name}={shlex.quote(value)}" for name, value in exports.items()]
    return "\n".join(lines)


def register_parser(subparsers: Any, parent: argparse.ArgumentParser) -> None:
    parser = add_parser(subparsers, sys.modules[__name__], parent, EXAMPLES)
    parser.add_argument(
        "action", choices=("start", "stop", "status", "env", "outbox"), metavar="<start|stop|status|env|outbox>"
    )
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


def list_outbox(outbox: Path) -> list[tuple[float, str, Path]]:
    """(time, subject, file) of each notice in the outbox, newest first."""
    found = []
    for path in outbox.glob("*.eml"):
        with path.open("rb") as handle:
            message = BytesParser(policy=policy.default).parse(handle, headersonly=True)
        found.append((path.stat().st_mtime, str(message["Subject"] or ""), path))
    return sorted(found, key=lambda item: item[0], reverse=True)


def run(opts: argparse.Namespace) -> int:
    if opts.action == "outbox":
        running = control.running_state()  # its outbox, wherever its data is; else the default data folder's
        notices = list_outbox(Path(running["outbox"]) if running else local_backend_dir() / "outbox")
        if opts.json:
            print(json.dumps([{"subject": s, "path": str(p), "mtime": t} for t, s, p in notices], indent=2))
        elif not notices:
            info("No notices yet: each run's notice lands here as an .eml file when the run ends.", opts.quiet)
        for moment, subject, path in [] if opts.json else notices:
            print(f"{datetime.fromtimestamp(moment):%Y-%m-%d %H:%M:%S}  {subject}\n    {path}")
        return 0
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
    if opts.action == "env":
        print(shell_environment(connect("local")))
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
