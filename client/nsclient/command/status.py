"""Show a run's status: the run record, with the live job state and the build's progress while it runs.

--json prints the run record (runs/<id>/run.json) as is: run_id, status, failure_class,
exit_code, submitted_at, started_at, finished_at, cpus, memory_mib, job_id, execution_arn,
workdir_url, log_url, submitter, notify, and more detail after those.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from nsclient.backend import connect
from nsclient.command.common import add_parser
from nsclient.runs.jobs import RunState
from nsclient.runs.logs import live_progress
from nsclient.runs.records import check_run_id
from nsclient.show import describe

if TYPE_CHECKING:
    import argparse

EXAMPLES = """
  nsclient status 20261125T093000Z-zika-1a2b3c4d5e
  nsclient status 20261125T093000Z-zika-1a2b3c4d5e --json | jq -r .status
"""


def register_parser(subparsers: Any, parent: argparse.ArgumentParser) -> None:
    parser = add_parser(subparsers, sys.modules[__name__], parent, EXAMPLES)
    parser.add_argument("run_id", metavar="<run-id>", help="The run id `nsclient push` printed")
    parser.add_argument("--json", dest="json", action="store_true", help="Print the run record as JSON")


def run(opts: argparse.Namespace) -> int:
    check_run_id(opts.run_id)
    state = RunState(connect(opts.backend), opts.run_id)
    record = state.update()
    if opts.json:
        print(record.model_dump_json(indent=2))
    else:
        print(describe(record, live_progress(state)))
    return 0
