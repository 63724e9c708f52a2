"""Print a run's log: the live CloudWatch stream while it runs, the archived copy in S3 after.

With --follow, keep printing as the job writes, and end when the run ends.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from nsclient import runs
from nsclient.backend import connect
from nsclient.command.common import add_parser, info
from nsclient.errors import EXIT_INTERRUPTED

if TYPE_CHECKING:
    import argparse

EXAMPLES = """
  nsclient logs 20261125T093000Z-zika-1a2b3c4d5e
  nsclient logs --follow 20261125T093000Z-zika-1a2b3c4d5e
"""


def register_parser(subparsers: Any, parent: argparse.ArgumentParser) -> None:
    parser = add_parser(subparsers, sys.modules[__name__], parent, EXAMPLES)
    parser.add_argument("run_id", metavar="<run-id>")
    parser.add_argument("--follow", "-f", dest="follow", action="store_true", help="Keep printing until the run ends")


def run(opts: argparse.Namespace) -> int:
    runs.check_run_id(opts.run_id)
    backend = connect(opts.backend)
    printed = 0
    try:
        for line in runs.log_lines(backend, opts.run_id, follow=opts.follow):
            print(line, flush=True)
            printed += 1
    except KeyboardInterrupt:
        info(f"\nStopped following; run {opts.run_id} goes on.")
        return EXIT_INTERRUPTED
    if printed == 0:
        record = runs.status(backend, opts.run_id)
        info(f"No log yet: run {opts.run_id} is {record.status.value}.", opts.quiet)
    return 0
