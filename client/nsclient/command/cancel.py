"""Cancel a run: stop its execution and terminate its Batch job.

The run then ends CANCELLED, with its log archived and a notice sent, whoever cancelled it
(this command, or StopExecution in the AWS console).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from nsclient.backend import connect
from nsclient.command.common import add_parser, info
from nsclient.runs.cancel import cancel
from nsclient.runs.records import check_run_id

if TYPE_CHECKING:
    import argparse

EXAMPLES = """
  nsclient cancel 20261125T093000Z-zika-1a2b3c4d5e
"""


def register_parser(subparsers: Any, parent: argparse.ArgumentParser) -> None:
    parser = add_parser(subparsers, sys.modules[__name__], parent, EXAMPLES)
    parser.add_argument("run_id", metavar="<run-id>")


def run(opts: argparse.Namespace) -> int:
    check_run_id(opts.run_id)
    done = cancel(connect(opts.backend), opts.run_id)
    info(f"Cancelling run {opts.run_id}: " + (", ".join(done) or "nothing was running yet") + ".", opts.quiet)
    info(f"It ends CANCELLED with its log kept; see `nsclient status {opts.run_id}`.", opts.quiet)
    return 0
