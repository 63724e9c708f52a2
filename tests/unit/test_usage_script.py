"""The measuring script around a job's command, run by sh as the job runs it (`sh -c 'eval "$SCRIPT"' ...` with
the script in the job's environment): whatever it reads from the cgroup, the build's log gets the usage line
and nothing else of its own, and the build's exit status passes through."""

from __future__ import annotations

import os
import subprocess
from typing import TYPE_CHECKING

import pytest

from nsclient_common.usage import SCRIPT_VAR, parse_usage_line, script_environment, wrap_command

if TYPE_CHECKING:
    from pathlib import Path

# A build that runs long enough to be sampled a few times, says something, and exits 3.
BUILD = ["sh", "-c", "sleep 0.4; echo the build ran; exit 3"]


def run_measured(cgroup: Path) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ["PATH"],
        "NSCLIENT_CGROUP": str(cgroup),
        "NSCLIENT_USAGE_INTERVAL": "0.05",
        **script_environment(),
    }
    return subprocess.run(wrap_command(BUILD), env=env, capture_output=True, text=True, timeout=30, check=False)


def write(cgroup: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (cgroup / name).parent.mkdir(parents=True, exist_ok=True)
        (cgroup / name).write_text(text)
    return cgroup


CGROUPS = {
    "v2 as the kernel writes it": {"cpu.stat": "usage_usec 4000000\nuser_usec 1\n", "memory.current": "1048576\n"},
    "v2 files empty": {"cpu.stat": "", "memory.current": "", "memory.peak": ""},
    "v2 caught mid-write": {"cpu.stat": "usage_usec 12", "memory.current": "10485", "memory.peak": "2097152\n"},
    "v2 cpu.stat without usage_usec": {"cpu.stat": "user_usec 5\n", "memory.current": "4096\n"},
    "v2 values that are not numbers": {"cpu.stat": "usage_usec 12ab\n", "memory.current": "max\n", "memory.peak": "-1"},
    "v2 values with leading zeros": {"cpu.stat": "usage_usec 0089\n", "memory.current": "0089\n", "memory.peak": "09"},
    "v1 as the kernel writes it": {
        "cpuacct/cpuacct.usage": "5000000000\n",
        "memory/memory.usage_in_bytes": "2048\n",
        "memory/memory.max_usage_in_bytes": "4096\n",
    },
    "v1 files empty": {"cpuacct/cpuacct.usage": "", "memory/memory.usage_in_bytes": ""},
    "v2 memory files missing": {"cpu.stat": "usage_usec 1\n"},
    "no cgroup files at all": {},
}


@pytest.mark.parametrize("files", CGROUPS.values(), ids=CGROUPS.keys())
def test_the_log_gets_the_builds_output_and_one_usage_line_whatever_the_cgroup_holds(
    files: dict[str, str], tmp_path: Path
) -> None:
    done = run_measured(write(tmp_path, files))

    assert done.returncode == 3
    assert done.stderr == ""
    lines = done.stdout.splitlines()
    assert lines[0] == "the build ran"
    assert len(lines) == 2 and lines[1].startswith("nsclient-usage: cgroup=")


def test_a_missing_cgroup_folder_is_measured_as_none(tmp_path: Path) -> None:
    done = run_measured(tmp_path / "not-there")

    assert (done.returncode, done.stderr) == (3, "")
    assert done.stdout.splitlines()[-1].startswith("nsclient-usage: cgroup=none wall_s=")
    assert parse_usage_line(done.stdout.splitlines()[-1]) is None


def test_readable_values_are_measured(tmp_path: Path) -> None:
    done = run_measured(write(tmp_path, {"cpu.stat": "usage_usec 7\n", "memory.peak": "2097152\n"}))

    usage = parse_usage_line(done.stdout.splitlines()[-1])
    assert usage is not None
    assert (usage.cgroup, usage.peak_memory_bytes) == ("v2", 2097152)


def test_the_command_names_the_script_in_one_short_line() -> None:
    """The image's entrypoint traces the command into the log: it holds no script, only its name."""
    command = wrap_command(["snakemake", "--cores=2"])

    assert not any("\n" in word for word in command)
    assert len(" ".join(command)) < 80
    assert SCRIPT_VAR in " ".join(command)
