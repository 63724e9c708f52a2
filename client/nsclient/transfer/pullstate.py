"""What the last pull of a results archive into a folder left there, so that pulling the same
version again reads nothing but the object's HEAD when the folder still holds exactly that.

The state is kept outside the folder (in nsclient's home, like the pushes it remembers), so it is
never pushed with the build. Each file is known by its size and modification time as seen right
after the pull (the quick check rsync makes): a file edited, touched, replaced or deleted since
differs, and the pull then plans from the archive's central directory as usual.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from nsclient.paths import nsclient_home

if TYPE_CHECKING:
    from pathlib import Path

VERSION = 1


@dataclass
class PullState:
    archive_version: str
    downloads: list[str]
    exclusions: list[str]
    not_produced: int = 0
    unselected: int = 0
    # Relative name -> (size, mtime_ns) of every file this selection keeps in the folder.
    files: dict[str, tuple[int, int]] = field(default_factory=dict)


def _state_file(bucket: str, key: str, destination: Path) -> Path:
    where = json.dumps([bucket, key, str(destination.resolve())])
    return nsclient_home() / "pulls" / f"{hashlib.sha256(where.encode()).hexdigest()[:32]}.json"


def _stat(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.lstat()
    except OSError:
        return None
    return stat.st_size, stat.st_mtime_ns


def observe(destination: Path, names: list[str]) -> dict[str, tuple[int, int]] | None:
    """Each file's size and mtime, or None when one is missing (a state that would not hold)."""
    files = {}
    for name in names:
        seen = _stat(destination / name)
        if seen is None:
            return None
        files[name] = seen
    return files


def load(bucket: str, key: str, destination: Path) -> PullState | None:
    try:
        saved = json.loads(_state_file(bucket, key, destination).read_text())
        if saved.pop("format") != VERSION:
            return None
        saved["files"] = {name: (size, mtime) for name, (size, mtime) in saved["files"].items()}
        return PullState(**saved)
    except (OSError, ValueError, KeyError, TypeError):
        return None  # none yet, or unreadable: plan from the archive


def still_holds(state: PullState, destination: Path, version: str, downloads: list[str], exclusions: list[str]) -> bool:
    """Whether the folder still holds exactly what pulling `version` with this selection left there."""
    if (state.archive_version, state.downloads, state.exclusions) != (version, downloads, exclusions):
        return False
    return observe(destination, list(state.files)) == state.files


def save(bucket: str, key: str, destination: Path, state: PullState) -> None:
    path = _state_file(bucket, key, destination)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    partial.write_text(json.dumps({"format": VERSION, **asdict(state)}))
    partial.replace(path)  # whole, so a pull in another terminal never reads it half written


def forget(bucket: str, key: str, destination: Path) -> None:
    _state_file(bucket, key, destination).unlink(missing_ok=True)
