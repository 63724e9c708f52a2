"""Which files of a build folder go up, as the Nextstrain CLI chooses them.

Upload leaves out what never belongs in a build's inputs (.git/, .snakemake/ except its log/,
metadata/ and storage/, environment*, *.pyc, __pycache__/) plus the user's globs; the same globs
choose what pull brings back (pullplan.py).
"""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path
from typing import TYPE_CHECKING

from nsclient_common.buildfolder import KEPT_SNAKEMAKE_STATE, SNAKEFILES, SNAKEMAKE_STATE

if TYPE_CHECKING:
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


def has_snakefile(root: Path) -> bool:
    return any((root / name).is_file() for name in SNAKEFILES)
