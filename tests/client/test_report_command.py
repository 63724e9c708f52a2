"""What a person sees after a run through the CLI: the cost estimate and the report in `nsclient status`,
`nsclient report --no-open` saving the run's report and printing where, and `nsclient local outbox`
listing the emailed notices newest first. One run for the module."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.client.helpers import Cli, aws_machine, build_folder, wait_for_status
from tests.support import SNAKEFILE_OK

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from tests.support import Backend


@pytest.fixture(scope="module")
def machine(local_backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    cli = Cli(tmp_path_factory.mktemp("report-command")).point_at(local_backend)
    yield cli
    cli.stop_strays()


@pytest.fixture(scope="module")
def finished_run(machine: Cli, local_backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = build_folder(tmp_path_factory.mktemp("report-builds") / "reported", SNAKEFILE_OK)
    pushed = machine("push", str(folder), "--cpus", "2", "--memory", "2GiB", "--notify", "me@example.org")
    assert pushed.code == 0, pushed.err
    run_id = pushed.out.strip()
    wait_for_status(machine, run_id, "SUCCEEDED", timeout=120)
    # The record is final before NotifyRun sends the notice: the execution's end follows the sending.
    local_backend.wait_for_execution(run_id)
    return run_id


def test_status_shows_the_cost_as_an_estimate_and_the_report(machine: Cli, finished_run: str) -> None:
    shown = machine("status", finished_run)
    assert shown.code == 0, shown.err
    cost = next(line for line in shown.out.splitlines() if line.startswith("Cost:"))
    assert cost.split(None, 1)[1].startswith("about $") and "(estimate: " in cost
    assert any(line.startswith("Report:") and line.endswith("/report.html") for line in shown.out.splitlines())


def test_report_no_open_saves_the_page_and_prints_its_path(machine: Cli, finished_run: str, tmp_path: Path) -> None:
    saved = machine("report", finished_run, "--no-open", "--dir", str(tmp_path))
    assert saved.code == 0, saved.err
    path = tmp_path / f"{finished_run}.report.html"
    assert saved.out.strip() == str(path.resolve())
    page = path.read_text()
    assert '<p class="advice" id="advice">Asked 2 GiB, peaked at ' in page
    assert "<td>make</td>" in page


def test_report_says_when_no_browser_could_be_opened(local_backend: Backend, finished_run: str, tmp_path: Path) -> None:
    # A shell with no display, whose BROWSER fails (as on a server or over SSH)
    person = aws_machine(tmp_path / "home", local_backend)
    no_browser = {"BROWSER": "false", "DISPLAY": None, "WAYLAND_DISPLAY": None}

    shown = person.process("report", finished_run, "--dir", str(tmp_path), env=no_browser)

    assert shown.code == 0, shown.err
    page = (tmp_path / f"{finished_run}.report.html").resolve()
    assert shown.out.strip() == str(page)
    assert shown.error_lines == [f"Could not open a browser here: open the report at {page.as_uri()} in one yourself."]


def test_a_run_id_that_is_not_one_is_refused_in_one_sentence(machine: Cli) -> None:
    refused = machine("report", "not a run")
    assert refused.code == 1
    assert refused.error_lines == [
        "Error: 'not a run' is not a run id: run ids look like 20261125T093000Z-zika-1a2b3c4d5e."
    ]


def test_local_outbox_lists_the_notices_newest_first(machine: Cli, finished_run: str) -> None:
    listed = machine("local", "outbox")
    assert listed.code == 0, listed.err
    lines = listed.out.splitlines()
    # Each notice: when and its subject, then its .eml file
    times = [line[:19] for line in lines[::2]]
    assert times == sorted(times, reverse=True)
    ours = next(i for i, line in enumerate(lines) if line.endswith(f"/{finished_run}.eml"))
    assert lines[ours - 1][19:].strip().startswith("[nsclient] reported SUCCEEDED in ")
