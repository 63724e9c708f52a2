"""Print a run's log: the live CloudWatch stream while it runs, the archived copy in S3 after.

With --follow, keep printing as the job writes, and end when the run ends, with the build's exit code
as `push --wait` ends (0 for a build that succeeded).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from nsclient.backend import connect
from nsclient.command.common import add_parser, info
from nsclient.errors import EXIT_INTERRUPTED
from nsclient.runs.jobs import RunState
from nsclient.runs.logs import log_lines
from nsclient.runs.records import check_run_id
from nsclient.watch import exit_code_of, follow
from nsclient_common.record import RunStatus

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
    check_run_id(opts.run_id)
    backend = connect(opts.backend)
    if opts.follow:
        try:
            final = follow(backend, opts.run_id, quiet=False, log_stream=sys.stdout, show_outcome=not opts.quiet)
        except KeyboardInterrupt:
            info(f"\nStopped following; run {opts.run_id} goes on.")
            return EXIT_INTERRUPTED
        return exit_code_of(final)
    state = RunState(backend, opts.run_id)
    printed = 0
    for line in log_lines(state, follow=False):
        print(line, flush=True)
        printed += 1
    if printed == 0 and state.record is not None:
        if state.record.status == RunStatus.REJECTED:
            why = (state.record.reason or "").rstrip(".")
            info(f"Run {opts.run_id} was rejected before any job ran, so it has no log and never will: {why}.")
        elif state.record.status.is_final:
            info(f"Run {opts.run_id} ended {state.record.status.value} with no log: its job never wrote one.")
        else:
            info(f"No log yet: run {opts.run_id} is {state.record.status.value}.", opts.quiet)
    return 0
