"""What the local backend needs besides nsclient itself, checked before a build is pushed to it rather than
found missing by the build ("snakemake: not found" in its log). `pip install 'nsclient[local]'` brings both:
snakemake runs the build, and Node.js runs the IAM evaluator when the backend authorizes requests strictly."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from nsclient.errors import UserError
from nsclient.local.nodejs import node_executable


def snakemake_found() -> bool:
    """Where a local job looks: beside this Python (its venv's scripts), then PATH."""
    return bool(shutil.which("snakemake", path=str(Path(sys.executable).parent)) or shutil.which("snakemake"))


def missing() -> list[str]:
    """What is missing, each with what it is for."""
    from nsclient.local.daemon import strict_iam_wanted  # the backend's own modules load only when needed

    needs = [] if snakemake_found() else ["snakemake (to run the build)"]
    if strict_iam_wanted() and node_executable() is None:
        needs.append("Node.js (to check each request's permissions)")
    return needs


def check_local_requirements() -> None:
    needs = missing()
    if needs:
        raise UserError(
            f"The local backend needs {' and '.join(needs)}, which this installation lacks: "
            "install nsclient with `pip install 'nsclient[local]'`."
        )
