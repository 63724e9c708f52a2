"""Which members of a results zip pull writes into a folder: what the run produced or changed (its CRC-32
differs from the upload's), selected by the user's globs, and different from the local copy; members
that would land outside the folder, by their name or through a link in it, are refused.
"""

from __future__ import annotations

import posixpath
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from nsclient.transfer.folder import glob_matches
from nsclient_common.buildfolder import is_safe_member

if TYPE_CHECKING:
    import zipfile
    from pathlib import Path


def file_crc(path: Path) -> int | None:
    if not path.is_file():
        return None
    crc = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            crc = zlib.crc32(chunk, crc)
    return crc


@dataclass
class PullPlan:
    extract: list[zipfile.ZipInfo] = field(default_factory=list)
    unchanged: int = 0
    kept: list[str] = field(default_factory=list)  # the selected files already as the run left them
    not_produced: int = 0
    unselected: int = 0
    refused: list[str] = field(default_factory=list)


def selected(name: str, downloads: list[str], exclusions: list[str]) -> bool:
    if downloads and not any(glob_matches(name, p) for p in downloads):
        return False
    return not any(glob_matches(name, p) for p in exclusions)


LOCAL_CRC_WORKERS = 8


class _Inside:
    """Whether a member's path stays inside the folder once links are followed; each folder resolved once."""

    def __init__(self, destination: Path):
        self.destination, self.root = destination, destination.resolve()
        self._folders: dict[str, bool] = {}

    def __call__(self, name: str) -> bool:
        folder = posixpath.dirname(name)
        inside = self._folders.get(folder)
        if inside is None:
            resolved = (self.destination / folder).resolve()
            inside = self._folders[folder] = resolved == self.root or self.root in resolved.parents
        if inside and (self.destination / name).is_symlink():
            return self.root in (self.destination / name).resolve().parents
        return inside


def plan_pull(
    results: zipfile.ZipFile,
    destination: Path,
    *,
    inputs: dict[str, int] | None,
    downloads: list[str],
    exclusions: list[str],
) -> PullPlan:
    """Which members to write: produced or changed by the run (CRC differs from the upload's),
    selected by the globs, and different from the local file (local CRCs computed in parallel)."""
    plan = PullPlan()
    inside = _Inside(destination)
    candidates: list[zipfile.ZipInfo] = []
    for member in results.infolist():
        name = member.filename
        if not is_safe_member(name):
            plan.refused.append(name)
            continue
        if member.is_dir():
            continue
        if not inside(name):
            plan.refused.append(name)  # a link in the folder would carry it outside
            continue
        if inputs is not None and inputs.get(name) == member.CRC:
            plan.not_produced += 1
            continue
        if not selected(name, downloads, exclusions):
            plan.unselected += 1
            continue
        candidates.append(member)
    with ThreadPoolExecutor(LOCAL_CRC_WORKERS) as pool:
        local_crcs = pool.map(lambda member: file_crc(destination / member.filename), candidates)
        for member, local_crc in zip(candidates, local_crcs, strict=True):
            if local_crc == member.CRC:
                plan.unchanged += 1
                plan.kept.append(member.filename)
            else:
                plan.extract.append(member)
    return plan


def member_crcs(archive: zipfile.ZipFile) -> dict[str, int]:
    return {m.filename: m.CRC for m in archive.infolist() if not m.is_dir()}
