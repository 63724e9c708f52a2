"""Where nsclient keeps things, following the Nextstrain CLI: NEXTSTRAIN_HOME (~/.nextstrain),
NEXTSTRAIN_CONFIG ($NEXTSTRAIN_HOME/config)."""

from __future__ import annotations

import os
from pathlib import Path


def nextstrain_home() -> Path:
    if os.environ.get("NEXTSTRAIN_HOME"):
        return Path(os.environ["NEXTSTRAIN_HOME"])
    home = Path.home() if "HOME" in os.environ or os.name == "nt" else Path.cwd()
    return home / ".nextstrain"


def config_file() -> Path:
    return (
        Path(os.environ["NEXTSTRAIN_CONFIG"]) if os.environ.get("NEXTSTRAIN_CONFIG") else nextstrain_home() / "config"
    )


def nsclient_home() -> Path:
    return nextstrain_home() / "nsclient"


def local_backend_dir() -> Path:
    """The local backend's data: its saved bucket, outbox and state file."""
    return Path(os.environ["NSCLIENT_LOCAL_DIR"]) if os.environ.get("NSCLIENT_LOCAL_DIR") else nsclient_home() / "local"


def pushes_file() -> Path:
    """Which folder this machine pushed as which run: pull's default destination."""
    return nsclient_home() / "pushes.json"
