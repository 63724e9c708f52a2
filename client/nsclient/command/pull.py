"""Download a run's results into a folder: only what the run produced and differs locally.

Members the run did not produce or change (your inputs) are never written, nor are members whose
content (CRC-32) equals the local file's; modification times are restored; absolute and `..`
members are refused. DIR defaults to the folder this machine pushed, if it pushed this run.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nsclient.backend import connect
from nsclient.command.common import add_parser, info
from nsclient.errors import UserError
from nsclient.pushes import pushed_directory
from nsclient.runs.jobs import status
from nsclient.runs.records import check_run_id
from nsclient.transfer.pull import pull
from nsclient.wording import count

if TYPE_CHECKING:
    import argparse

    from nsclient.transfer.pullplan import PullPlan

EXAMPLES = """
  nsclient pull 20261125T093000Z-zika-1a2b3c4d5e              # into the folder that was pushed
  nsclient pull 20261125T093000Z-zika-1a2b3c4d5e results-copy/
  nsclient pull RUN --download 'auspice/*.json'
  nsclient pull RUN --exclude-from-download 'results/*.fasta'
"""


def register_parser(subparsers: Any, parent: argparse.ArgumentParser) -> None:
    parser = add_parser(subparsers, sys.modules[__name__], parent, EXAMPLES)
    parser.add_argument("run_id", metavar="<run-id>")
    parser.add_argument("directory", metavar="<dir>", type=Path, nargs="?", help="Where to put the results")
    add_download_options(parser)


def add_download_options(parser: argparse.ArgumentParser) -> None:
    """--download and --exclude-from-download, as pull and push --wait take them."""
    parser.add_argument(
        "--download", dest="downloads", metavar="<glob>", action="append", default=[], help="Only matching files"
    )
    parser.add_argument(
        "--exclude-from-download",
        dest="exclusions",
        metavar="<glob>",
        action="append",
        default=[],
        help="Not matching files (repeatable)",
    )


def run(opts: argparse.Namespace) -> int:
    check_run_id(opts.run_id)
    backend = connect(opts.backend)
    destination = opts.directory or pushed_directory(opts.run_id)
    if destination is None:
        status(backend, opts.run_id)  # a run that does not exist is that, not a missing folder
        raise UserError(f"Give a folder to pull into: this machine did not push run {opts.run_id}.")
    plan, written = pull(backend, opts.run_id, destination, opts.downloads, opts.exclusions, opts.quiet)
    for path in written:
        print(path)
    say_pulled(plan, written, destination, opts.quiet)
    return 0


def say_pulled(plan: PullPlan, written: list[Path], destination: Path, quiet: bool) -> None:
    for name in plan.refused:
        info(f"Refused unsafe member {name!r} (absolute or outside the folder).")
    info(
        f"Pulled {count(len(written), 'file')} into {destination} ({plan.unchanged} already up to date, "
        f"{count(plan.not_produced, 'input')} left alone, {plan.unselected} not selected).",
        quiet,
    )
