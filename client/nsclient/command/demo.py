"""Run the bundled example build end to end on the local backend, and show where everything went.

Copies the example (a small Snakemake build producing an Auspice JSON) into DIR, pushes it with
--wait, pulls the results back into DIR and prints the paths of the results and of the notice.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nsclient.backend import connect
from nsclient.command.common import add_parser, info
from nsclient.errors import UserError
from nsclient.runs.transfer import pull, push
from nsclient.watch import exit_code_of, follow
from nsclient_common.request import BuildRequest

if TYPE_CHECKING:
    import argparse

EXAMPLE = Path(__file__).resolve().parents[1] / "example_build"
EXAMPLES = """
  nsclient demo                 # into ./nsclient-demo
  nsclient demo /tmp/my-demo
"""


def register_parser(subparsers: Any, parent: argparse.ArgumentParser) -> None:
    parser = add_parser(subparsers, sys.modules[__name__], parent, EXAMPLES)
    parser.add_argument("directory", metavar="<dir>", type=Path, nargs="?", default=Path("nsclient-demo"))
    parser.add_argument("--cpus", dest="cpus", type=int, default=2, metavar="<n>")


def run(opts: argparse.Namespace) -> int:
    if shutil.which("snakemake", path=str(Path(sys.executable).parent)) is None and shutil.which("snakemake") is None:
        raise UserError("The demo's build runs snakemake locally: install it with `pip install 'nsclient[local]'`.")
    started = time.monotonic()
    backend = connect(opts.backend or "local")
    if opts.directory.exists() and any(opts.directory.iterdir()):
        raise UserError(f"{opts.directory} exists and is not empty: give a new folder for the demo.")
    shutil.copytree(EXAMPLE, opts.directory, dirs_exist_ok=True)
    request = BuildRequest(cpus=opts.cpus, memory_mib=2048, submitter="nsclient-demo")
    run_id = push(backend, opts.directory, request, [], opts.quiet)
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
    print(f"Results: {auspice.resolve()} ({len(written)} files pulled into {opts.directory.resolve()})")
    if notice is not None:
        print(f"Notice:  {notice}")
    print(f"Log:     nsclient logs {run_id}")
    return 0
