"""A build folder as a zip, and a results zip back into the folder, as the Nextstrain CLI does.

Upload leaves out what never belongs in a build's inputs (.git/, .snakemake/ except its log/,
metadata/ and storage/, environment*, *.pyc, __pycache__/) plus the user's globs. Download
extracts only what the run produced or changed and what differs from the local copy (by
CRC-32), restores modification times, and refuses members that would land outside the folder.
"""

from __future__ import annotations

import calendar
import fnmatch
import os
import posixpath
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING

from nsclient_common.buildfolder import KEPT_SNAKEMAKE_STATE, SNAKEFILES, SNAKEMAKE_STATE, is_safe_member

if TYPE_CHECKING:
    import zipfile
    from collections.abc import Iterable, Iterator

ALWAYS_EXCLUDED = (".git/", SNAKEMAKE_STATE, "environment*", "*.pyc", "__pycache__/")


def _parts_match(parts: tuple[str, ...], pattern: tuple[str, ...]) -> bool:
    """Part by part, so * and ? stay within one folder level and ** spans any number of them."""
    if not pattern:
        return not parts
    if pattern[0] == "**":
        return any(_parts_match(parts[skip:], pattern[1:]) for skip in range(len(parts) + 1))
    return bool(parts) and fnmatch.fnmatchcase(parts[0], pattern[0]) and _parts_match(parts[1:], pattern[1:])


def _parts(path: str) -> tuple[str, ...]:
    # As PurePosixPath(path).parts, for a relative path, without its cost (it runs for every file and pattern).
    return tuple(part for part in path.split("/") if part and part != ".")


def glob_matches(path: str, pattern: str) -> bool:
    """Shell-style glob on a relative POSIX path; a pattern without / matches a name at any depth."""
    pattern = pattern.rstrip("/")
    if "/" not in pattern:
        return any(fnmatch.fnmatchcase(part, pattern) for part in _parts(path))
    wanted = _parts(pattern.lstrip("/"))
    parts = _parts(path)
    # The path itself, or a folder above it: a pattern naming a folder covers everything below it.
    return any(_parts_match(parts[:depth], wanted) for depth in range(1, len(parts) + 1))


def _excluded_always(relative: str) -> bool:
    if relative.startswith(KEPT_SNAKEMAKE_STATE) or relative.rstrip("/") + "/" in KEPT_SNAKEMAKE_STATE:
        return False
    if (relative + "/").startswith(SNAKEMAKE_STATE) and any(k.startswith(relative + "/") for k in KEPT_SNAKEMAKE_STATE):
        return False  # .snakemake itself: descend, to keep log/ metadata/ storage/
    return any(glob_matches(relative, pattern) for pattern in ALWAYS_EXCLUDED)


def upload_members(root: Path, exclude: Iterable[str] = ()) -> Iterator[tuple[Path, str]]:
    """(path, name in zip) for every file to upload, in a stable order."""
    patterns = list(exclude)
    for directory, dirnames, filenames in os.walk(root, followlinks=False):
        base = Path(directory)
        folder = Path(directory).relative_to(root).as_posix()
        prefix = "" if folder == "." else folder + "/"
        keep_dirs = []
        for name in sorted(dirnames):
            relative = prefix + name
            if not _excluded_always(relative) and not any(glob_matches(relative, p) for p in patterns):
                keep_dirs.append(name)
        dirnames[:] = keep_dirs
        for name in sorted(filenames):
            relative = prefix + name
            if _excluded_always(relative) or any(glob_matches(relative, p) for p in patterns):
                continue
            path = base / name
            if path.is_symlink() and not path.exists():
                continue  # a dangling link has nothing to upload
            yield path, relative


def write_zip(root: Path, destination: IO[bytes], exclude: Iterable[str] = ()) -> int:
    """Zip the build folder (following links to their content, as the Nextstrain CLI does)."""
    from nsclient.transfer.zipstream import zip_stream

    return zip_stream(upload_members(root, exclude), destination.write)


def has_snakefile(root: Path) -> bool:
    return any((root / name).is_file() for name in SNAKEFILES)


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


def extract(results: zipfile.ZipFile, member: zipfile.ZipInfo, destination: Path) -> Path:
    target = destination / member.filename
    resolved_root = destination.resolve()
    if resolved_root not in target.resolve().parents:
        raise ValueError(f"refusing to write outside {destination}: {member.filename}")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".nsclient-partial")
    with results.open(member) as source, partial.open("wb") as sink:
        while chunk := source.read(1024 * 1024):
            sink.write(chunk)
    partial.replace(target)
    set_member_mtime(target, member)
    return target


def set_member_mtime(target: Path, member: zipfile.ZipInfo) -> None:
    # Zip times carry no zone; the job's clock is UTC, as the Nextstrain CLI assumes.
    mtime = calendar.timegm((*member.date_time, 0, 0, -1))
    os.utime(target, (mtime, mtime))


def member_crcs(archive: zipfile.ZipFile) -> dict[str, int]:
    return {m.filename: m.CRC for m in archive.infolist() if not m.is_dir()}
