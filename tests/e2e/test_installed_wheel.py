"""The built wheel, installed in a fresh venv outside the checkout, runs the demo from any folder: the local
backend's template.yaml, state machine and handlers come with the package, not from a source checkout.

Building the wheel is part of the test (and must raise no setuptools warning). The fresh venv gets the wheel
and snakemake's console script; their dependencies are those of the environment running the tests, reached
through a .pth file (which adds a folder to sys.path and runs none of that folder's own .pth files, so the
checkout's editable install stays out of sight): a full dependency install takes minutes. The demo then runs
twice in the same folder, as a second `make demo` does.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import pytest

from nsclient.local.strict_iam import STRICT_IAM_VARIABLE, UNCHECKED_NOTICE

CHECKOUT = Path(__file__).resolve().parents[2]
NOT_SOURCE = (".git", ".venv*", "node_modules", "build", "dist", "*.egg-info", ".*_cache", ".aws-sam", "nsclient-demo")
WARNINGS = ("BuildBackendWarning", "SetuptoolsDeprecationWarning", "Package would be ignored", "is deprecated")


def run(
    *args: str | Path, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(a) for a in args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the wheel built from this checkout; its bin folder."""
    started = time.monotonic()
    work = tmp_path_factory.mktemp("wheel-install")
    # Built from a copy (links kept as links), so the build leaves nothing in the checkout; and without
    # PYTHONPATH, on which pip would take the checkout for an installed nsclient.
    source = work / "source"
    shutil.copytree(CHECKOUT, source, symlinks=True, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    clean = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    built = run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-v", "-w", work / "dist", source, env=clean)
    output = built.stdout + built.stderr
    assert [line for line in output.splitlines() if any(w in line for w in WARNINGS)] == []
    (wheel,) = (work / "dist").glob("nsclient-*.whl")
    venv = work / "venv"
    run(sys.executable, "-m", "venv", venv, env=clean)
    python = venv / "bin" / "python"
    run(python, "-m", "pip", "install", "--quiet", "--no-deps", wheel, f"snakemake=={version('snakemake')}", env=clean)
    fresh_site = run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", env=clean)
    (Path(fresh_site.stdout.strip()) / "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    print(f"wheel built and installed in {time.monotonic() - started:.0f} s")
    return venv / "bin"


@pytest.fixture
def machine(tmp_path: Path, installed: Path) -> Iterator[dict[str, str]]:
    """A shell with only the fresh venv on PATH, no settings, nothing of the checkout on sys.path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_", "NSCLIENT_", "NEXTSTRAIN_"))}
    env.pop("PYTHONPATH", None)
    env |= {"NEXTSTRAIN_HOME": str(tmp_path / "home"), "PATH": f"{installed}{os.pathsep}/usr/bin:/bin"}
    # The wheel carries the evaluator's script but not its Node.js packages: this backend checks no IAM.
    env[STRICT_IAM_VARIABLE] = "0"
    yield env
    subprocess.run([installed / "nsclient", "local", "stop"], env=env, timeout=120, check=False)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_installed_wheel_runs_the_demo_twice_from_any_folder(
    installed: Path, machine: dict[str, str], tmp_path: Path
) -> None:
    anywhere = tmp_path / "anywhere"
    anywhere.mkdir()
    where = run(installed / "python", "-c", "import nsclient; print(nsclient.__file__)", env=machine, cwd=anywhere)
    assert Path(where.stdout.strip()).is_relative_to(installed.parent)

    started = time.monotonic()
    first = run(installed / "nsclient", "demo", env=machine, cwd=anywhere, timeout=600)
    again = run(installed / "nsclient", "demo", env=machine, cwd=anywhere, timeout=600)
    print(f"two demos in {time.monotonic() - started:.0f} s")

    assert UNCHECKED_NOTICE in first.stderr
    for demo in (first, again):
        lines = demo.stdout.splitlines()
        assert f"Results: {anywhere / 'nsclient-demo' / 'auspice' / 'example.json'}" in demo.stdout
        assert lines[-2:] == [
            "The local backend keeps running, with this run on record (`nsclient list`).",
            "Stop it with `nsclient local stop`; its runs are kept for the next start.",
        ]
    assert (anywhere / "nsclient-demo" / "auspice" / "example.json").is_file()
