"""The bundled example build: where it is, and a clean copy of it to run.

The package's own folder is never run in: a build's results written there would be copied (and uploaded)
by every later demo. So the copy takes the example's own files only, whatever else the folder holds.
"""

from __future__ import annotations

import shutil
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parent / "example_build"
# The example's own files and folders; anything else in EXAMPLE was made by running it there.
EXAMPLE_FILES = ("README.md", "Snakefile", "config", "data", "scripts")


def copy_example(destination: Path) -> None:
    """The example's own files into `destination` (made if need be), nothing a run left beside them."""
    destination.mkdir(parents=True, exist_ok=True)
    for name in EXAMPLE_FILES:
        source = EXAMPLE / name
        if source.is_dir():
            shutil.copytree(source, destination / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, destination / name)


def is_the_example(directory: Path) -> bool:
    return directory.resolve() == EXAMPLE
