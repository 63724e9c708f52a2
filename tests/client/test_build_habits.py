"""push as `nextstrain build --aws-batch` taught its users: targets and snakemake options after the build
folder, and the results back in the folder when `--wait` sees the build end (a failed build's too).

Each build is pushed by `python -m nsclient push ... --wait`, as a person types it, with the aws backend kind
(the local kind's 2 s check that its backend answers can fail under load and start a second backend).
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

import pytest

from tests.client.helpers import Cli, Result, aws_machine, build_folder

if TYPE_CHECKING:
    from pathlib import Path

    from tests.support import Backend

BUILD_TIMEOUT = 150

# Two results the build makes by default; a target names one of them.
SNAKEFILE_TWO_RESULTS = """\
rule all:
    input: "results/a.txt", "results/b.txt"

rule make:
    output: "results/{name}.txt"
    shell: "echo made {wildcards.name} > {output}"
"""

# The first rule's result is made; the second rule fails.
SNAKEFILE_FAILS_LATE = """\
rule all:
    input: "results/second.txt"

rule first:
    output: "results/first.txt"
    shell: "echo first > {output}"

rule second:
    input: "results/first.txt"
    output: "results/second.txt"
    shell: "exit 4"
"""


@pytest.fixture
def machine(local_backend: Backend, tmp_path: Path) -> Cli:
    return aws_machine(tmp_path / "home", local_backend)


def push_wait(machine: Cli, *args: str) -> Result:
    return machine.process("push", *args, timeout=BUILD_TIMEOUT)


@pytest.mark.slow
def test_a_target_after_the_folder_is_built_alone_and_comes_back(machine: Cli, tmp_path: Path) -> None:
    folder = build_folder(tmp_path / "zika-like", SNAKEFILE_TWO_RESULTS)

    result = push_wait(machine, str(folder), "results/a.txt", "--wait", "--forceall")

    assert result.code == 0, result.err
    assert (folder / "results" / "a.txt").read_text() == "made a\n"
    assert not (folder / "results" / "b.txt").exists()
    assert re.search(rf"^Pulled \d+ files? into {re.escape(str(folder))} ", result.err, re.MULTILINE)
    assert "nsclient pull" not in result.err
    # The build's log, shown as it ran: nsclient's measuring script is not in it, nor any word of its own
    log = result.out.splitlines()[1:]
    (traced,) = [line for line in log if line.startswith("+ env --chdir /nextstrain/build -- sh -c")]
    assert "snakemake results/a.txt --forceall" in traced
    assert not [line for line in log if "NSCLIENT_CGROUP" in line or "Illegal number" in line]


@pytest.mark.slow
def test_wait_downloads_what_a_failed_build_made_and_exits_with_its_code(machine: Cli, tmp_path: Path) -> None:
    folder = build_folder(tmp_path / "fails-late", SNAKEFILE_FAILS_LATE)

    result = push_wait(machine, str(folder), "--wait")

    assert result.code == 1, result.err  # snakemake's, as the build's exit code
    assert (folder / "results" / "first.txt").read_text() == "first\n"
    assert not (folder / "results" / "second.txt").exists()
    assert re.search(rf"^Pulled \d+ files? into {re.escape(str(folder))} ", result.err, re.MULTILINE)


@pytest.mark.slow
def test_no_download_leaves_the_results_in_the_backend(machine: Cli, tmp_path: Path) -> None:
    folder = build_folder(tmp_path / "kept-remote", SNAKEFILE_TWO_RESULTS)

    result = push_wait(machine, str(folder), "--wait", "--no-download")

    assert result.code == 0, result.err
    assert not (folder / "results").exists()
    run_id = result.out.splitlines()[0]  # then the build's log
    assert f"Get the results with `nsclient pull {run_id}`." in result.err


@pytest.mark.slow
def test_download_globs_choose_what_comes_back(machine: Cli, tmp_path: Path) -> None:
    folder = build_folder(tmp_path / "chosen", SNAKEFILE_TWO_RESULTS)

    result = push_wait(machine, str(folder), "--wait", "--download", "results/*", "--exclude-from-download", "*/b.txt")

    assert result.code == 0, result.err
    assert sorted(p.name for p in (folder / "results").iterdir()) == ["a.txt"]


def test_targets_options_and_dashes_reach_snakemake_in_their_order(
    quiet_cli: Cli, local_backend: Backend, quiet_bucket: str, tmp_path: Path
) -> None:
    folder = build_folder(tmp_path / "ordered", SNAKEFILE_TWO_RESULTS)

    result = quiet_cli("push", str(folder), "results/a.txt", "--forceall", "--cpus", "2", "--", "-q", "--wait")

    assert result.code == 0, result.err
    s3 = local_backend.client("s3")
    (upload,) = [
        o
        for o in s3.list_objects_v2(Bucket=quiet_bucket)["Contents"]
        if o["Key"].endswith(result.out.strip().rsplit("-", 1)[0] + ".zip")
    ]
    metadata = s3.head_object(Bucket=quiet_bucket, Key=upload["Key"])["Metadata"]
    assert json.loads(metadata["snakemake-args"]) == ["results/a.txt", "--forceall", "-q", "--wait"]
    assert metadata["cpus"] == "2"


def test_a_bad_push_option_after_the_targets_is_still_a_usage_error(machine: Cli, tmp_path: Path) -> None:
    folder = build_folder(tmp_path / "bad-cpus", SNAKEFILE_TWO_RESULTS)

    result = machine("push", str(folder), "results/a.txt", "--cpus", "zero")

    assert result.code == 2
    assert result.error_lines[0].startswith("usage: nsclient push")
    assert "--cpus" in result.error_lines[-1]


def test_unknown_arguments_of_another_command_show_that_commands_usage(machine: Cli) -> None:
    result = machine("status", "20261125T093000Z-zika-1a2b3c4d5e", "results/a.txt")

    assert result.code == 2
    assert result.error_lines[0].startswith("usage: nsclient status")
    assert result.error_lines[-1] == "nsclient status: error: unrecognized arguments: results/a.txt"


def test_an_image_pushed_to_the_local_backend_is_said_not_to_be_used(local_cli: Cli, tmp_path: Path) -> None:
    folder = build_folder(tmp_path / "imaged", SNAKEFILE_TWO_RESULTS)

    result = local_cli("push", str(folder), "--image", "nextstrain/base:build-20250101T000000Z")

    assert result.code == 0, result.err
    assert (
        "The local backend runs this machine's snakemake, not a container: "
        "nextstrain/base:build-20250101T000000Z is not used."
    ) in result.error_lines
