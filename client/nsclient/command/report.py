"""Download a run's report (runs/<id>/report.html: timeline, use against request, what to ask for
next time) and open it in the browser; --no-open prints where it was saved."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from nsclient.backend import connect
from nsclient.browser import open_page
from nsclient.command.common import add_parser
from nsclient.errors import UserError
from nsclient.runs.jobs import status
from nsclient.runs.records import check_run_id
from nsclient_common.layout import report_html_key

if TYPE_CHECKING:
    import argparse

EXAMPLES = """
  nsclient report 20261125T093000Z-zika-1a2b3c4d5e
  nsclient report 20261125T093000Z-zika-1a2b3c4d5e --no-open --dir reports/
"""


def register_parser(subparsers: Any, parent: argparse.ArgumentParser) -> None:
    parser = add_parser(subparsers, sys.modules[__name__], parent, EXAMPLES)
    parser.add_argument("run_id", metavar="<run-id>", help="The run id `nsclient push` printed")
    parser.add_argument("--no-open", dest="open", action="store_false", help="Print the file's path, open nothing")
    parser.add_argument("--dir", dest="dir", default=".", metavar="<dir>", help="Where to save it (default: here)")


def run(opts: argparse.Namespace) -> int:
    check_run_id(opts.run_id)
    backend = connect(opts.backend)
    record = status(backend, opts.run_id)
    if not record.report_url:
        raise UserError(
            f"Run {opts.run_id} has no report: "
            + ("its job never started." if record.status.is_final else "it is written when the run ends.")
        )
    target = Path(opts.dir) / f"{opts.run_id}.report.html"
    try:
        key = report_html_key(opts.run_id, record.owner)
        body = backend.client("s3").get_object(Bucket=backend.bucket, Key=key)["Body"].read()
    except ClientError as error:
        raise UserError(f"Could not download the report of {opts.run_id}: {error}.") from None
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(body)
    print(target.resolve())
    if opts.open:
        open_page(target.resolve().as_uri(), "the report")
    return 0
