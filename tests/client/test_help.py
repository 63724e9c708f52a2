"""Every command documents itself: `--help` works and shows examples (as nextstrain's tests/help.py)."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys

import pytest

from nsclient.cli import make_parser
from tests.client.helpers import Cli


def subcommands() -> list[str]:
    parser = make_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sorted(action.choices)


def test_subcommands_cover_the_documented_commands() -> None:
    assert set(subcommands()) >= {"push", "status", "list", "logs", "pull", "cancel", "setup", "config", "local"}


@pytest.mark.parametrize("command", subcommands())
def test_help_exits_zero_and_shows_examples(command: str, tmp_path) -> None:
    result = Cli(tmp_path / "home")(command, "--help")

    assert result.code == 0
    assert f"usage: nsclient {command}" in result.out
    examples = result.out.split("examples:\n", 1)
    assert len(examples) == 2, f"`nsclient {command} --help` has no examples section"
    assert f"nsclient {command}" in examples[1]
    assert result.err == ""


def test_help_of_the_installed_command_exits_zero(tmp_path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "nsclient", "--help"], capture_output=True, text=True, timeout=60, check=False
    )

    assert done.returncode == 0
    for command in subcommands():
        assert command in done.stdout


def test_each_commands_summary_in_the_help_is_a_whole_sentence() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "nsclient", "--help"], capture_output=True, text=True, timeout=60, check=True
    )
    listing = done.stdout.split("  <command>\n", 1)[1].split("\noptions:", 1)[0]
    # Each command's line, then the lines its summary wraps onto
    summaries = re.split(r"\n    (?=[a-z])", "\n" + listing.strip("\n"))
    assert len(summaries) == len(subcommands()) + 1
    for entry in summaries[1:]:
        command, summary = entry.split(None, 1)
        assert " ".join(summary.split()).endswith("."), f"`nsclient {command}`'s summary is cut: {summary!r}"


def test_help_of_a_subcommand_as_a_process_exits_zero(tmp_path) -> None:
    result = Cli(tmp_path / "home").process("push", "--help")

    assert result.code == 0
    assert "examples:" in result.out
    assert "nsclient push zika/" in result.out
