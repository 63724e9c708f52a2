"""Look at a run's tree in Auspice, in the browser, as `nextstrain view` shows a build's.

Downloads only the run's auspice/ files (by ranged reads, as pull does) into nsclient's home (or --dir),
starts Auspice on them and opens its page; Ctrl-C stops it. Auspice is the one already installed (on PATH
or in the Nextstrain CLI's runtime), else it is installed from npm on first use.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nsclient.auspice import auspice_command
from nsclient.backend import connect
from nsclient.browser import open_page
from nsclient.command.common import add_parser, info
from nsclient.errors import UserError
from nsclient.paths import nsclient_home
from nsclient.runs.records import check_run_id
from nsclient.transfer.pull import pull

if TYPE_CHECKING:
    import argparse

EXAMPLES = """
  nsclient view 20261125T093000Z-zika-1a2b3c4d5e
  nsclient view 20261125T093000Z-zika-1a2b3c4d5e --port 4001 --no-open
"""
DEFAULT_PORT = 4000  # as `nextstrain view`
STARTUP_SECONDS = 60
# Auspice's sidecar files, read alongside a dataset: not datasets of their own.
SIDECARS = ("_tip-frequencies.json", "_root-sequence.json", "_measurements.json")


def register_parser(subparsers: Any, parent: argparse.ArgumentParser) -> None:
    parser = add_parser(subparsers, sys.modules[__name__], parent, EXAMPLES)
    parser.add_argument("run_id", metavar="<run-id>")
    parser.add_argument("--port", dest="port", type=int, metavar="<port>", help="Auspice's port (default: 4000)")
    parser.add_argument("--no-open", dest="open", action="store_false", help="Print Auspice's address, open nothing")
    parser.add_argument("--dir", dest="dir", type=Path, metavar="<dir>", help="Where to put the auspice/ files")


def datasets(folder: Path) -> list[str]:
    """The names Auspice serves the datasets in `folder` by (example.json: example)."""
    return sorted(p.stem for p in folder.glob("*.json") if not p.name.endswith(SIDECARS))


def free_port(wanted: int | None) -> int:
    """The port asked for; else 4000, or any free one when 4000 is taken."""
    if wanted is not None:
        return wanted
    for port in (DEFAULT_PORT, 0):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            chosen: int = probe.getsockname()[1]
            return chosen
    raise UserError("No free port for Auspice: give one with --port.")


def wait_until_serving(process: subprocess.Popen[bytes], base: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            last = (log.read_text(errors="replace").strip().splitlines() or ["no output"])[-1]
            raise UserError(f"Auspice stopped before it served the tree ({last}).")
        try:
            with urllib.request.urlopen(f"{base}/charon/getAvailable", timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    process.terminate()
    raise UserError(f"Auspice did not answer at {base} within {STARTUP_SECONDS} s.")


def run(opts: argparse.Namespace) -> int:
    check_run_id(opts.run_id)
    backend = connect(opts.backend)
    destination: Path = opts.dir or nsclient_home() / "views" / opts.run_id
    pull(backend, opts.run_id, destination, ["auspice/*"], [], opts.quiet)
    names = datasets(destination / "auspice")
    if not names:
        raise UserError(f"Run {opts.run_id} made no Auspice dataset (no JSON in its auspice/ folder): nothing to view.")
    command = auspice_command(opts.quiet)
    port = free_port(opts.port)
    base = f"http://localhost:{port}"
    with tempfile.NamedTemporaryFile(prefix="nsclient-auspice-", suffix=".log") as log:
        process = subprocess.Popen(
            [*command, "view", "--datasetDir", str(destination / "auspice")],
            cwd=destination,
            env={**_environment(command), "PORT": str(port), "HOST": "localhost"},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        # A stop asked by the system (SIGTERM) ends Auspice too, as Ctrl-C does.
        previous = signal.signal(signal.SIGTERM, _interrupt)
        try:
            wait_until_serving(process, base, Path(log.name))
            address = f"{base}/{names[0]}"
            print(address, flush=True)
            info(f"Auspice is showing run {opts.run_id}'s tree at {address}; Ctrl-C stops it.", opts.quiet)
            if opts.open:
                open_page(address, "Auspice")
            process.wait()
        except KeyboardInterrupt:
            info("\nStopped Auspice.", opts.quiet)
        finally:
            signal.signal(signal.SIGTERM, previous)
            if process.poll() is None:
                process.terminate()
                process.wait(10)
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _environment(command: list[str]) -> dict[str, str]:
    node_folder = str(Path(command[0]).parent)  # Auspice's own scripts find the same node
    return {**os.environ, "PATH": f"{node_folder}{os.pathsep}{os.environ.get('PATH', '')}"}
