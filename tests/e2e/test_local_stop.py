"""`nsclient local stop` with runs in progress, and every job's scratch folder, as a user meets them:
real CLI processes against a local backend process started for each test (strict IAM).

The backend's jobs make their scratch folders (the container's /) in the backend's TMPDIR, which each
test points at a folder of its own, and carry that folder in their environment: so a test finds each
job's process group in /proc, and can tell whether anything of it is still alive."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from email import message_from_bytes, policy
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from nsclient.local.entrypoint import ROOT_VAR
from nsclient.local.strict_iam import STRICT_IAM_VARIABLE
from tests.client.helpers import SNAKEFILE_HELD, build_folder
from tests.support import run_nsclient, wait_until

if TYPE_CHECKING:
    from collections.abc import Iterator

SCRATCH_GLOB = "nsclient-job-*"
WAIT = 120  # seconds, for each step of a local backend run


class Machine:
    """One user's machine: its own NEXTSTRAIN_HOME, its local backend, and the backend's TMPDIR."""

    def __init__(self, root: Path):
        self.root = root
        self.jobs_tmp = root / "tmp"
        self.jobs_tmp.mkdir(parents=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_", "NSCLIENT_", "NEXTSTRAIN_"))}
        env |= {
            "NEXTSTRAIN_HOME": str(root / "home"),
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
            "TMPDIR": str(self.jobs_tmp),
            STRICT_IAM_VARIABLE: "1",
        }
        self.env = env

    def __call__(self, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
        return run_nsclient(*args, env=self.env, timeout=timeout)

    def ok(self, *args: str) -> str:
        result = self(*args)
        assert result.returncode == 0, f"nsclient {' '.join(args)}: {result.stderr[-3000:]}"
        return result.stdout

    def push_held(self, name: str) -> tuple[str, Path]:
        """Push a build that runs until its barrier file is created; its run id and barrier."""
        barrier = self.root / f"{name}.release"
        folder = build_folder(self.root / name, SNAKEFILE_HELD.format(barrier=barrier))
        return self.ok("push", str(folder)).strip(), barrier

    def status(self, run_id: str) -> dict[str, Any]:
        result = self("status", run_id, "--json")
        return json.loads(result.stdout) if result.returncode == 0 else {}

    def scratch_folders(self) -> list[Path]:
        return sorted(self.jobs_tmp.glob(SCRATCH_GLOB))

    def left_in_tmp(self) -> list[str]:
        """What is in the backend's TMPDIR: the jobs' scratch folders, and whatever escaped them."""
        return sorted(path.name for path in self.jobs_tmp.iterdir())


def job_process_groups(jobs_tmp: Path) -> set[int]:
    """The process groups of the processes whose job's scratch folder is under jobs_tmp."""
    marker = f"{ROOT_VAR}={jobs_tmp}{os.sep}".encode()
    groups = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environment = (entry / "environ").read_bytes().split(b"\0")
            group = os.getpgid(int(entry.name))
        except (OSError, ProcessLookupError):
            continue  # gone, or not ours to read
        if any(variable.startswith(marker) for variable in environment):
            groups.add(group)
    return groups


def alive_in_group(group: int) -> list[int]:
    """The processes of a process group that still run (an exited one waiting to be reaped does not)."""
    alive = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            state, _parent, process_group = (entry / "stat").read_text().rsplit(")", 1)[1].split()[:3]
        except (OSError, ValueError):
            continue
        if int(process_group) == group and state != "Z":
            alive.append(int(entry.name))
    return alive


@pytest.fixture
def machine(tmp_path: Path) -> Iterator[Machine]:
    machine = Machine(tmp_path)
    machine.ok("local", "start")
    yield machine
    machine("local", "stop", "--force")


@pytest.mark.slow
def test_stop_refuses_while_runs_are_in_progress_and_force_cancels_them_whole(machine: Machine) -> None:
    # Given a run whose job is running (its snakemake waiting on a barrier that never comes)
    run_id, _barrier = machine.push_held("held")
    wait_until(lambda: "holding" in machine("logs", run_id).stdout, timeout=WAIT, what="the job's first line")
    groups = wait_until(lambda: job_process_groups(machine.jobs_tmp), timeout=WAIT, what="the job's processes")
    assert len(machine.scratch_folders()) == 1
    outbox = Path(json.loads(machine.ok("local", "status", "--json"))["outbox"])

    # When the user stops the local backend
    refused = machine("local", "stop")

    # Then it refuses in one sentence naming the run, and nothing stops
    assert refused.returncode == 1
    lines = [line for line in refused.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and run_id in lines[0] and "--force" in lines[0], refused.stderr
    assert json.loads(machine.ok("local", "status", "--json"))["running"] is True
    assert all(alive_in_group(group) for group in groups)
    assert machine.status(run_id)["status"] == "RUNNING"

    # When they insist
    forced = machine("local", "stop", "--force")

    # Then the backend stops, and nothing of the job is left: no process of its group, no scratch folder
    assert forced.returncode == 0, forced.stderr
    assert run_id in forced.stderr
    assert json.loads(machine.ok("local", "status", "--json"))["running"] is False
    assert {group: alive_in_group(group) for group in groups} == dict.fromkeys(groups, [])
    assert machine.left_in_tmp() == []

    # And the run ended CANCELLED saying why, with a notice, and the log it had so far, kept across a restart
    notices = [message_from_bytes(path.read_bytes(), policy=policy.default) for path in sorted(outbox.glob("*.eml"))]
    subjects = [notice["Subject"] for notice in notices]
    # The subject names the build (its folder), the outcome and how long it ran; the body names the run.
    ran = r"(\d+m \d\ds|\d+s)"
    assert len(subjects) == 1 and re.fullmatch(rf"\[nsclient\] held CANCELLED in {ran}", subjects[0]), subjects
    text = notices[0].get_body(("plain",))
    assert text is not None and run_id in text.get_content()
    machine.ok("local", "start")
    record = machine.status(run_id)
    assert (record["status"], record["failure_class"]) == ("CANCELLED", "cancelled")
    assert record["reason"] == "The run was cancelled: the local backend was stopped."
    assert "holding" in machine.ok("logs", run_id)


@pytest.mark.slow
def test_every_jobs_scratch_folder_is_removed_after_its_run_cancelled_or_not(machine: Machine) -> None:
    # Given two runs whose jobs are running, each with its scratch folder
    cancelled, _ = machine.push_held("cancelled")
    released, barrier = machine.push_held("released")
    wait_until(lambda: len(machine.scratch_folders()) == 2, timeout=WAIT, what="both jobs' scratch folders")
    groups = wait_until(
        lambda: len(found := job_process_groups(machine.jobs_tmp)) == 2 and found, timeout=WAIT, what="both jobs"
    )

    # When one is cancelled and the other finishes
    assert machine("cancel", cancelled).returncode == 0
    barrier.touch()

    # Then each ends as it should, and neither leaves a scratch folder or a process behind
    wait_until(
        lambda: machine.status(cancelled).get("status") == "CANCELLED", timeout=WAIT, what="the cancelled run's end"
    )
    wait_until(
        lambda: machine.status(released).get("status") == "SUCCEEDED", timeout=WAIT, what="the released run's end"
    )
    assert machine.left_in_tmp() == []
    assert {group: alive_in_group(group) for group in groups} == dict.fromkeys(groups, [])
