"""Run the bundled example build end to end on the local backend, and show where everything went.

Copies the example (a small Snakemake build producing an Auspice JSON) into DIR, pushes it with
--wait, pulls the results back into DIR and prints the paths of the results and of the notice.
A DIR an earlier demo made is started afresh; any other DIR must be new or empty. The local
backend keeps running afterwards (`nsclient local stop` stops it).
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nsclient.backend import connect
from nsclient.command.common import add_parser, info
from nsclient.command.push import whole_number_of_cpus
from nsclient.errors import UserError
from nsclient.example import copy_example
from nsclient.local.requirements import check_local_requirements
from nsclient.transfer.pull import pull
from nsclient.transfer.push import push
from nsclient.watch import exit_code_of, follow
from nsclient.wording import count
from nsclient_common.request import BuildRequest

if TYPE_CHECKING:
    import argparse

# Left in a demo's folder (and never uploaded), so that a later demo may start it afresh.
MARKER = ".nsclient-demo"
EXAMPLES = """
  nsclient demo                 # into ./nsclient-demo
  nsclient demo /tmp/my-demo
"""


def register_parser(subparsers: Any, parent: argparse.ArgumentParser) -> None:
    parser = add_parser(subparsers, sys.modules[__name__], parent, EXAMPLES)
    parser.add_argument("directory", metavar="<dir>", type=Path, nargs="?", default=Path("nsclient-demo"))
    parser.add_argument("--cpus", dest="cpus", type=whole_number_of_cpus, default=2, metavar="<n>")


def run(opts: argparse.Namespace) -> int:
    check_local_requirements()
    started = time.monotonic()
    check_folder(opts.directory)  # before a backend is started for nothing
    backend = connect(opts.backend or "local")
    prepare_folder(opts.directory)
    request = BuildRequest(cpus=opts.cpus, memory_mib=2048, submitter="nsclient-demo")
    run_id = push(backend, opts.directory, request, [MARKER], opts.quiet)
    print(run_id, flush=True)
    info(f"Pushed the example build as run {run_id}; following it to the end.", opts.quiet)
    final = follow(backend, run_id, quiet=opts.quiet, log_stream=sys.stderr if opts.quiet else sys.stdout)
    info(final.reason or "", opts.quiet)
    if exit_code_of(final) != 0:
        info(f"The demo build failed: see `nsclient logs {run_id}`.")
        return exit_code_of(final)
    _, written = pull(backend, run_id, opts.directory, [], [], opts.quiet)
    auspice = opts.directory / "auspice" / "example.json"
    notice = Path(backend.outbox or "") / f"{run_id}.eml" if backend.outbox else None
    info("", opts.quiet)
    info(f"Done in {time.monotonic() - started:.1f} s.", opts.quiet)
    print(f"Results: {auspice.resolve()} ({count(len(written), 'file')} pulled into {opts.directory.resolve()})")
    if notice is not None:
        print(f"Notice:  {notice}")
    print(f"Log:     nsclient logs {run_id}")
    if backend.kind == "local":
        print("The local backend keeps running, with this run on record (`nsclient list`).")
        print("Stop it with `nsclient local stop`; its runs are kept for the next start.")
    print(f"Report:  nsclient report {run_id}   (the build's timeline and what to ask for next time)")
    print(f"Tree:    nsclient view {run_id}     (the tree in Auspice, in your browser)")
    return 0


def check_folder(directory: Path) -> None:
    """The demo's folder must be new, empty, or an earlier demo's."""
    if directory.exists() and any(directory.iterdir()) and not (directory / MARKER).is_file():
        raise UserError(f"{directory} exists and is not an earlier demo's: give a new or empty folder.")


def prepare_folder(directory: Path) -> None:
    """A fresh copy of the example in DIR; an earlier demo's folder is started afresh."""
    check_folder(directory)
    if (directory / MARKER).is_file():
        shutil.rmtree(directory)
    copy_example(directory)
    (directory / MARKER).write_text("Made by `nsclient demo`, which may replace this folder.\n")
