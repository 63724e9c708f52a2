"""Following a run as a person sees it, from `python -m nsclient` in a subprocess on the local backend.

Without a terminal the output is plain lines: the run's state each time it changes (never an earlier
one), the log, and the outcome line; `--quiet --wait` prints the outcome alone. `list` and `status`
agree while a run runs. On a terminal the live view shows the build's steps done of the total, the
rules running now and the time elapsed.
"""

from __future__ import annotations

import re
import tempfile
from typing import TYPE_CHECKING

import pytest

from nsclient.example import copy_example
from nsclient_common.record import RunStatus
from tests.client.helpers import SNAKEFILE_HELD, Cli, Result, build_folder, wait_for_status
from tests.support import wait_until, written_so_far

if TYPE_CHECKING:
    import subprocess
    from collections.abc import Iterator, Mapping
    from pathlib import Path

    from tests.support import Backend

BUILD_TIMEOUT = 180
# Three steps one after the other (and `all`), each long enough to be seen running.
SNAKEFILE_STEPS = """\
rule all:
    input: "results/c.txt"

rule a:
    output: "results/a.txt"
    shell: "sleep 2 && echo a > {output}"

rule b:
    input: "results/a.txt"
    output: "results/b.txt"
    shell: "sleep 2 && echo b > {output}"

rule c:
    input: "results/b.txt"
    output: "results/c.txt"
    shell: "sleep 2 && echo c > {output}"
"""
STATE_LINE = re.compile(r"^Run (?P<run>\S+) is (?P<status>[A-Z]+)\.$")
OUTCOME_LINE = re.compile(r"^Run (?P<run>\S+) (?P<status>SUCCEEDED|FAILED|CANCELLED|REJECTED)\b.*\.$")


def shown_states(err: str, run_id: str) -> list[RunStatus]:
    """The states a person read, in order: each change of state, then the outcome."""
    states = []
    for line in err.splitlines():
        match = STATE_LINE.match(line) or OUTCOME_LINE.match(line)
        if match and match["run"] == run_id:
            states.append(RunStatus(match["status"]))
    return states


class Background:
    """`python -m nsclient ARGS`, running while the test goes on."""

    def __init__(self, cli: Cli, *args: str, env: Mapping[str, str | None] | None = None):
        self._out = tempfile.TemporaryFile("w+")
        self._err = tempfile.TemporaryFile("w+")
        self.process: subprocess.Popen[str] = cli.popen(*args, env=env, stdout=self._out, stderr=self._err)

    def out_so_far(self) -> str:
        return written_so_far(self._out)

    def result(self, timeout: float = BUILD_TIMEOUT) -> Result:
        try:
            code = self.process.wait(timeout)
        except BaseException:
            self.process.kill()
            raise
        self._out.seek(0)
        self._err.seek(0)
        return Result(code, self._out.read(), self._err.read())


def status_when(machine: Cli, run_id: str, wanted: str, timeout: float = 60) -> str:
    """`nsclient status RUN` once it says `wanted` (the log the job writes reaches CloudWatch Logs a moment later)."""

    def shown() -> str:
        out = machine("status", run_id).out
        return out if wanted in out else ""

    return wait_until(shown, timeout=timeout, what=f"status of {run_id} says {wanted!r}", interval=0.5)


@pytest.fixture(scope="module")
def machine(local_backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    cli = Cli(tmp_path_factory.mktemp("follow-machine")).point_at(local_backend)
    yield cli
    cli.stop_strays()


@pytest.mark.slow
def test_push_wait_shows_each_state_once_and_never_an_earlier_one(machine: Cli, tmp_path: Path) -> None:
    example = tmp_path / "example"
    copy_example(example)
    folders = [
        example,
        build_folder(tmp_path / "steps-1", SNAKEFILE_STEPS),
        build_folder(tmp_path / "steps-2", SNAKEFILE_STEPS),
    ]
    waits = [Background(machine, "push", str(folder), "--wait") for folder in folders]  # side by side
    for wait in waits:
        result = wait.result()
        assert result.code == 0, result.err
        run_id = result.out.splitlines()[0]
        states = shown_states(result.err, run_id)
        assert states[-1] == RunStatus.SUCCEEDED, result.err
        assert [s.stage for s in states] == sorted(s.stage for s in states), f"went backwards: {states}"
        assert len(states) == len(set(states)), f"a state shown twice: {states}"
        assert "\x1b" not in result.out + result.err  # no terminal: no escape codes


@pytest.mark.slow
def test_quiet_wait_prints_the_run_id_and_the_outcome_only(machine: Cli, tmp_path: Path) -> None:
    folder = build_folder(tmp_path / "quiet", SNAKEFILE_STEPS)

    result = Background(machine, "push", str(folder), "--wait", "--quiet").result()

    assert result.code == 0, result.err
    (run_id,) = result.out.splitlines()  # no log
    (outcome,) = result.error_lines
    assert OUTCOME_LINE.match(outcome) and outcome.startswith(f"Run {run_id} SUCCEEDED after ")


@pytest.mark.slow
def test_a_running_run_is_running_in_list_and_status_and_logs_follow_ends_with_the_outcome(
    machine: Cli, tmp_path: Path
) -> None:
    barrier = tmp_path / "release"
    folder = build_folder(tmp_path / "held", SNAKEFILE_HELD.format(barrier=barrier))
    run_id = machine("push", str(folder)).out.strip()
    try:
        assert wait_for_status(machine, run_id, "RUNNING", timeout=BUILD_TIMEOUT)
        (row,) = [line for line in machine("list").out.splitlines() if line.startswith(run_id)]
        cells = row.split()
        assert cells[1] == "RUNNING"
        # its duration so far: "7s", or "1m 05s" (two cells)
        assert re.fullmatch(r"\d+s", cells[3]) or re.fullmatch(r"\d+m \d\ds", " ".join(cells[3:5])), row
        assert "Progress:    0 of 2 steps done, running hold" in status_when(machine, run_id, "running hold")
        following = Background(machine, "logs", "--follow", run_id)
        # Released only once the follower shows the held job's first line: it follows a running run
        wait_until(lambda: "holding" in following.out_so_far(), timeout=BUILD_TIMEOUT, what="logs --follow showed it")
    finally:
        barrier.touch()
    result = following.result()

    assert result.code == 0, result.err
    assert "released" in result.out.splitlines()
    assert result.error_lines[-1].startswith(f"Run {run_id} SUCCEEDED after ")


@pytest.mark.slow
def test_the_wait_view_on_a_terminal_shows_steps_running_rules_and_elapsed_time(machine: Cli, tmp_path: Path) -> None:
    folder = build_folder(tmp_path / "terminal", SNAKEFILE_STEPS)
    # rich's own switches for a terminal it can't detect (a CI log that renders escape codes)
    terminal = {"TTY_COMPATIBLE": "1", "TTY_INTERACTIVE": "1", "COLUMNS": "120"}

    result = Background(machine, "push", str(folder), "--wait", env=terminal).result()

    assert result.code == 0, result.err
    # The frames as text: colours dropped, each cursor move a line break.
    frames = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "\n", re.sub(r"\x1b\[[0-9;]*m", "", result.err))
    assert re.search(r"RUNNING .* 1 of 4 steps .* (\d+m \d\d|\d+)s", frames), frames
    assert re.search(r"of 4 steps +running [abc]\b", frames), frames
    assert not [line for line in frames.splitlines() if STATE_LINE.match(line)]  # the live view replaces them
    assert "4 of 4 steps (100%) done" in result.out.splitlines()  # the log stays on stdout, redirected


@pytest.mark.slow
def test_colour_only_on_a_terminal_and_never_with_no_color(machine: Cli, tmp_path: Path) -> None:
    run_id = machine("push", str(build_folder(tmp_path / "colour", SNAKEFILE_STEPS))).out.strip()
    colour = re.compile(r"\x1b\[(?:\d+;)*3[0-7]m")  # a foreground colour
    terminal = {"TTY_COMPATIBLE": "1"}
    # Listed once its record is written (by the backend, a moment after the push)
    wait_until(lambda: run_id in machine("list").out, timeout=BUILD_TIMEOUT, what=f"{run_id} listed")

    on_a_terminal = machine.process("list", env=terminal)
    no_color = machine.process("list", env={**terminal, "NO_COLOR": "1"})
    piped = machine.process("list")

    assert all(run_id in result.out for result in (on_a_terminal, no_color, piped))
    assert colour.search(on_a_terminal.out)
    assert not colour.search(no_color.out)
    assert "\x1b" not in piped.out
