"""This machine's pushes: which folder was pushed as which run, pull's default destination."""

from __future__ import annotations

import json
import os
from pathlib import Path

from nsclient.paths import pushes_file


def _read_pushes(path: Path) -> dict[str, str]:
    try:
        pushes = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return {}
    return pushes if isinstance(pushes, dict) else {}


def remember_push(run_id: str, directory: Path) -> None:
    path = pushes_file()
    pushes = _read_pushes(path)
    pushes[run_id] = str(directory.resolve())
    path.parent.mkdir(parents=True, exist_ok=True)
    # Replaced whole, so that a push in another terminal never reads it half written.
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    partial.write_text(json.dumps(pushes, indent=2))
    partial.replace(path)


def pushed_directory(run_id: str) -> Path | None:
    directory = _read_pushes(pushes_file()).get(run_id)
    return Path(directory) if directory else None
