"""List runs, newest first, from the durable run records in the bucket.

Works for runs months old (as long as the bucket keeps them), not only while Batch remembers
the job. By default the last 30 days; --since 7d (m, h, d, w) or --all.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

from nsclient.backend import connect
from nsclient.command.common import add_parser
from nsclient.console import make_console, print_columns
from nsclient.runs.jobs import current_records
from nsclient.runs.records import list_records, parse_since
from nsclient.show import duration, resources, status_style

if TYPE_CHECKING:
    import argparse

EXAMPLES = """
  nsclient list
  nsclient list --since 7d
  nsclient list --all --json | jq '.[] | select(.status == "FAILED") | .run_id'
  nsclient list --everyone            # an admin: every person's runs, with their owner
"""


def register_parser(subparsers: Any, parent: argparse.ArgumentParser) -> None:
    parser = add_parser(subparsers, sys.modules[__name__], parent, EXAMPLES)
    window = parser.add_mutually_exclusive_group()
    window.add_argument(
        "--since", dest="since", metavar="<age>", default="30d", help="Only runs this recent (default 30d)"
    )
    window.add_argument("--all", dest="all", action="store_true", help="Every run the bucket holds")
    parser.add_argument(
        "--everyone",
        dest="everyone",
        action="store_true",
        help="Every person's runs, with their owner (needs the stack's admin policy)",
    )
    parser.add_argument("--json", dest="json", action="store_true", help="Print the run records as a JSON list")


def run(opts: argparse.Namespace) -> int:
    since = None if opts.all else parse_since(opts.since)
    backend = connect(opts.backend)
    # The table needs only what the run index holds; --json prints whole records.
    records = current_records(backend, list_records(backend, since, everyone=opts.everyone, full=opts.json))
    if opts.json:
        print(json.dumps([r.model_dump(mode="json") for r in records], indent=2))
        return 0
    if not records:
        print("No runs" + ("." if opts.all else f" in the last {opts.since} (try --all)."), file=sys.stderr)
        return 0
    header = ["RUN", "STATUS", "FAILURE", "DURATION", "RESOURCES", "SUBMITTED", "SUBMITTER"]
    rows = [
        [
            (r.run_id, None),
            (r.status.value, status_style(r.status)),
            (r.failure_class.value if r.failure_class else "-", None),
            (duration(r), None),
            (resources(r), None),
            (r.submitted_at, None),
            (r.submitter or "-", None),
            *([(r.owner or "(no owner: made before per-person folders)", None)] if opts.everyone else []),
        ]
        for r in records
    ]
    print_columns(make_console(stderr=False), header + (["OWNER"] if opts.everyone else []), rows)
    return 0
