"""What a build folder is, for the upload check, the client's push and pull, and the job's return.

A build folder has a Snakefile; snakemake's own `.snakemake/` state is left behind except the
parts a person pulls back (its log, metadata and storage), as the Nextstrain CLI does; and no
member of a build's zip may land outside the folder.
"""

from __future__ import annotations

from pathlib import PurePosixPath

SNAKEFILES = ("Snakefile", "snakefile", "workflow/Snakefile", "workflow/snakefile")
SNAKEMAKE_STATE = ".snakemake/"
# The parts of .snakemake/ that travel with a build, both ways.
KEPT_SNAKEMAKE_STATE = (".snakemake/log/", ".snakemake/metadata/", ".snakemake/storage/")


def unsafe_member_problem(name: str) -> str | None:
    """Why a zip member's name would write outside the build folder, or None when it is safe."""
    path = PurePosixPath(name.replace("\\", "/"))
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return f"has an absolute path ({name!r})"
    if ".." in path.parts:
        return f"has a path that climbs out of the build folder ({name!r})"
    return None


def is_safe_member(name: str) -> bool:
    return unsafe_member_problem(name) is None
