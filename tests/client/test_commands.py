"""Each command as a user runs it: against the local backend, and against the aws backend kind
(configured in the config file, reaching the same moto through AWS_ENDPOINT_URL).

The builds these tests follow are started together, before the first test waits on one, so
that they run side by side; each test then looks at its own.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import tempfile
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from nsclient_common.layout import log_key, record_key, workdir_key
from nsclient_common.record import RunRecord, RunStatus
from nsclient_common.runid import is_run_id, run_id_for_upload
from nsclient_common.runindex import legacy_summary_key
from nsclient_common.runstore import write_record
from tests.client import helpers
from tests.client.helpers import (
    SNAKEFILE_HELD,
    SNAKEFILE_SLEEPS,
    Cli,
    Result,
    build_folder,
    wait_for_status,
)
from tests.support import SNAKEFILE_FAILS, SNAKEFILE_OK, wait_until, written_so_far, zip_bytes

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.support import Backend

BUILD_TIMEOUT = 150
CONTRACT_FIELDS = (
    "run_id",
    "status",
    "failure_class",
    "exit_code",
    "submitted_at",
    "started_at",
    "finished_at",
    "cpus",
    "memory_mib",
    "job_id",
    "execution_arn",
    "workdir_url",
    "log_url",
    "submitter",
    "notify",
)


@dataclass
class Pushed:
    run_id: str
    folder: Path
    push: Result


def wait_or_kill(process: subprocess.Popen[str], timeout: float) -> int:
    """The process's exit code; a process still running after timeout is killed, and the test fails."""
    try:
        return process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        raise


class Waiting:
    """`python -m nsclient push DIR --wait ...`, running alongside the tests."""

    def __init__(self, cli: Cli, folder: Path, *args: str):
        self.folder = folder
        self._out = tempfile.TemporaryFile("w+")
        self._err = tempfile.TemporaryFile("w+")
        self.process = cli.popen("push", str(folder), "--wait", *args, stdout=self._out, stderr=self._err)

    def result(self, timeout: float = BUILD_TIMEOUT) -> Result:
        code = wait_or_kill(self.process, timeout)
        self._out.seek(0)
        self._err.seek(0)
        return Result(code, self._out.read(), self._err.read())


class Interrupted:
    """`python -m nsclient push DIR --wait`, sent SIGINT (Ctrl-C) once it says the run is RUNNING."""

    def __init__(self, cli: Cli, folder: Path):
        self._out = tempfile.TemporaryFile("w+")
        self.process = cli.popen("push", str(folder), "--wait", stdout=self._out, stderr=subprocess.PIPE)
        self.err_lines: list[str] = []
        self.interrupted = False
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.err_lines.append(line)
            if " is RUNNING." in line and not self.interrupted:
                self.process.send_signal(signal.SIGINT)
                self.interrupted = True

    def result(self, timeout: float = BUILD_TIMEOUT) -> Result:
        code = wait_or_kill(self.process, timeout)
        self._reader.join(10)
        self._out.seek(0)
        return Result(code, self._out.read(), "".join(self.err_lines))


# --- machines and builds ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def machine(local_backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    """The user's machine, with the local backend (the default: nothing configured)."""
    cli = Cli(tmp_path_factory.mktemp("local-machine")).point_at(local_backend)
    yield cli
    cli.stop_strays()


@pytest.fixture(scope="module")
def aws_machine(local_backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Cli:
    """A machine set up for a deployed stack: the aws backend kind, from the config file alone."""
    return helpers.aws_machine(tmp_path_factory.mktemp("aws-machine"), local_backend)


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("builds")


def push(cli: Cli, folder: Path, *args: str) -> Pushed:
    result = cli("push", str(folder), *args)
    assert result.code == 0, result.err
    run_id = json.loads(result.out)["run_id"] if "--json" in args else result.out.strip()
    return Pushed(run_id, folder, result)


# The cancel tests need their builds still running when they get to them, whatever else is slow.
SLOW_SECONDS = 240


@pytest.fixture(scope="module")
def slow_run(machine: Cli, folders: Path) -> Iterator[Pushed]:
    pushed = push(machine, build_folder(folders / "slow-local", SNAKEFILE_SLEEPS.format(seconds=SLOW_SECONDS)))
    yield pushed
    machine("cancel", pushed.run_id)  # should a test have failed before cancelling it


@pytest.fixture(scope="module")
def aws_slow_run(aws_machine: Cli, folders: Path) -> Iterator[Pushed]:
    pushed = push(aws_machine, build_folder(folders / "slow-aws", SNAKEFILE_SLEEPS.format(seconds=SLOW_SECONDS)))
    yield pushed
    aws_machine("cancel", pushed.run_id)


# The builds followed by `python -m nsclient push --wait` use the aws backend kind: with the local
# kind, the client's 2 s check that the backend answers (local/control.py) fails under load, and
# the client then starts a second local backend of its own.


@pytest.fixture(scope="module")
def interrupted(aws_machine: Cli, folders: Path) -> Iterator[Interrupted]:
    following = Interrupted(aws_machine, build_folder(folders / "interrupted", SNAKEFILE_SLEEPS.format(seconds=3)))
    yield following
    if following.process.poll() is None:
        following.process.kill()


@pytest.fixture(scope="module")
def wait_fails(aws_machine: Cli, folders: Path) -> Iterator[Waiting]:
    following = Waiting(aws_machine, build_folder(folders / "wait-fails", SNAKEFILE_FAILS))
    yield following
    if following.process.poll() is None:
        following.process.kill()


@pytest.fixture(scope="module")
def rejected_run(local_backend: Backend) -> str:
    """An upload the backend refuses (no Snakefile), dropped into the person's inbox folder as any S3 tool would."""
    return local_backend.upload_as(
        local_backend.user, zip_bytes({"README.md": "not a build"}), name="client-tests-rejected"
    )


@dataclass
class Held:
    pushed: Pushed
    barrier: Path


@pytest.fixture(scope="module")
def held_run(machine: Cli, folders: Path) -> Iterator[Held]:
    """A build that runs until its test lets it finish."""
    barrier = folders / "release-held-run"
    pushed = push(machine, build_folder(folders / "held", SNAKEFILE_HELD.format(barrier=barrier)))
    yield Held(pushed, barrier)
    barrier.touch()


@pytest.fixture(scope="module")
def ok_run(machine: Cli, folders: Path) -> Pushed:
    """A build that succeeds, pushed with every request option and followed to its end (--wait)."""
    folder = build_folder(folders / "zika-ok", SNAKEFILE_OK, {"data/input.txt": "as pushed\n"})
    options = ("--cpus", "2", "--memory", "1GiB", "--notify", "me@example.org", "--wait", "--no-download", "--json")
    return push(machine, folder, *options, "--", "--forceall")


# In this order: ok_run is followed to its end here, while the others run.
BUILDS = ("slow_run", "aws_slow_run", "interrupted", "wait_fails", "rejected_run", "held_run", "ok_run")


@pytest.fixture(scope="module", autouse=True)
def _builds_side_by_side(request: pytest.FixtureRequest) -> None:
    """Start every build the selected tests of this module follow, before the first one waits."""
    wanted = {
        name
        for item in request.session.items
        if getattr(item, "module", None) is request.module
        for name in getattr(item, "fixturenames", ())
    }
    for name in BUILDS:
        if name in wanted:
            # A build that fails to start fails the tests that follow it (pytest keeps the error), not all.
            with contextlib.suppress(Exception):
                request.getfixturevalue(name)


def inbox_metadata(backend: Backend, run_id: str) -> dict[str, str]:
    """The metadata of the upload that started the run."""
    s3 = backend.client("s3")
    versions = s3.list_object_versions(Bucket=backend.info.bucket, Prefix="inbox/").get("Versions", [])
    for version in versions:
        if run_id_for_upload(version["Key"], version["VersionId"]) == run_id:
            head = s3.head_object(Bucket=backend.info.bucket, Key=version["Key"], VersionId=version["VersionId"])
            metadata: dict[str, str] = head["Metadata"]
            return metadata
    raise AssertionError(f"no upload in inbox/ started run {run_id}")


def wait_for_log(backend: Backend, run_id: str, timeout: float = 60) -> str:
    wait_until(lambda: backend.keys(backend.run_key(run_id, log_key)), timeout=timeout, what=f"{run_id}'s log archived")
    return backend.archived_log(run_id)


def stored_record(backend: Backend, run_id: str) -> dict[str, Any]:
    body = (
        backend.client("s3")
        .get_object(Bucket=backend.info.bucket, Key=backend.run_key(run_id, record_key))["Body"]
        .read()
    )
    return RunRecord.from_json(body).model_dump(mode="json")


# --- cancel ---------------------------------------------------------------------------------------


def check_cancelled(cli: Cli, backend: Backend, run_id: str) -> None:
    wait_for_status(cli, run_id, "RUNNING", timeout=BUILD_TIMEOUT)

    result = cli("cancel", run_id)

    assert result.code == 0, result.err
    assert f"Cancelling run {run_id}: asked the backend to stop it; it terminates the Batch job." in result.err
    record = backend.wait_for_record(run_id, timeout=BUILD_TIMEOUT)
    assert record.status == RunStatus.CANCELLED
    assert [job["status"] for job in backend.batch_jobs(run_id)] == ["FAILED"]
    assert "napping" in wait_for_log(backend, run_id)
    assert cli("status", run_id, "--json").json()["status"] == "CANCELLED"
    # Once the execution has ended, nothing is left that could send another notice.
    assert backend.wait_for_execution(run_id)["status"] == "ABORTED"
    assert len(backend.topic_messages(run_id)) == 1
    again = cli("cancel", run_id)
    assert again.code == 1
    assert again.error_lines == [f"Error: Run {run_id} already ended CANCELLED; there is nothing to cancel."]


@pytest.mark.slow
def test_cancel_ends_a_running_build_cancelled_with_one_notice(
    machine: Cli, slow_run: Pushed, local_backend: Backend
) -> None:
    check_cancelled(machine, local_backend, slow_run.run_id)


@pytest.mark.slow
def test_cancel_through_the_aws_backend_kind(aws_machine: Cli, aws_slow_run: Pushed, local_backend: Backend) -> None:
    assert "(aws backend)" in aws_slow_run.push.err
    check_cancelled(aws_machine, local_backend, aws_slow_run.run_id)


# --- Ctrl-C during push --wait ----------------------------------------------------------------------


@pytest.mark.slow
def test_ctrl_c_during_wait_detaches_and_the_run_goes_on(interrupted: Interrupted, local_backend: Backend) -> None:
    result = interrupted.result()
    run_id = result.out.splitlines()[0]

    assert interrupted.interrupted, f"the run never showed RUNNING:\n{result.err}"
    assert result.code == 130
    assert f"Detached: run {run_id} goes on without you." in result.err
    assert f"`nsclient logs --follow {run_id}`" in result.err
    assert f"`nsclient status {run_id}`" in result.err
    assert "Traceback" not in result.err
    assert local_backend.wait_for_record(run_id, timeout=BUILD_TIMEOUT).status == RunStatus.SUCCEEDED


# --- push -------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_push_prints_the_run_id_and_says_where_it_went(slow_run: Pushed, aws_slow_run: Pushed, machine: Cli) -> None:
    for pushed, kind in [(slow_run, "local"), (aws_slow_run, "aws")]:
        assert pushed.push.out == f"{pushed.run_id}\n"
        assert is_run_id(pushed.run_id)
        assert f"Pushed {pushed.folder} as run {pushed.run_id} ({kind} backend)." in pushed.push.err
        assert f"`nsclient status {pushed.run_id}`" in pushed.push.err
    assert machine.pushes()[slow_run.run_id] == str(slow_run.folder.resolve())


@pytest.mark.slow
def test_push_uploads_the_request_as_metadata(ok_run: Pushed, machine: Cli, local_backend: Backend) -> None:
    metadata = inbox_metadata(local_backend, ok_run.run_id)

    assert {k: v for k, v in metadata.items() if k != "submitter"} == {
        "cpus": "2",
        "memory": "1024",
        "snakemake-args": '["--forceall"]',
        "notify": "me@example.org",
    }
    assert "@" in metadata["submitter"]
    assert "-zika-ok-" in ok_run.run_id
    assert machine.pushes()[ok_run.run_id] == str(ok_run.folder.resolve())


@pytest.mark.slow
def test_push_wait_json_prints_only_the_run_id_and_exits_zero(ok_run: Pushed, local_backend: Backend) -> None:
    result = ok_run.push

    assert result.code == 0, result.err
    assert json.loads(result.out) == {"run_id": ok_run.run_id}
    assert local_backend.record(ok_run.run_id).status == RunStatus.SUCCEEDED  # type: ignore[union-attr]
    assert "the build ran" in result.err.splitlines()  # with --json the log goes to stderr
    assert f"Run {ok_run.run_id} SUCCEEDED after " in result.err  # the outcome line
    assert f"Get the results with `nsclient pull {ok_run.run_id}`." in result.err


@pytest.mark.slow
def test_logs_follow_prints_the_log_and_ends_when_the_run_ends(held_run: Held, machine: Cli) -> None:
    run_id = held_run.pushed.run_id
    assert wait_for_status(machine, run_id, "RUNNING", timeout=BUILD_TIMEOUT)
    out, err = tempfile.TemporaryFile("w+"), tempfile.TemporaryFile("w+")

    try:
        following = machine.popen("logs", "--follow", run_id, stdout=out, stderr=err)
        # It shows the log of a run still running (held until now), not a finished log
        wait_until(lambda: "holding" in written_so_far(out), timeout=BUILD_TIMEOUT, what="logs --follow showed it")
    finally:
        held_run.barrier.touch()
    code = following.wait(BUILD_TIMEOUT)

    assert code == 0, written_so_far(err)
    lines = written_so_far(out).splitlines()
    assert lines.count("holding") == 1
    assert lines.count("released") == 1
    assert lines.index("holding") < lines.index("released")
    assert any(line.startswith("upload: /nextstrain/build.zip to s3://") for line in lines)  # the job's last step
    assert machine("status", run_id, "--json").json()["status"] == "SUCCEEDED"


@pytest.mark.slow
def test_push_wait_exits_with_the_builds_exit_code(wait_fails: Waiting, local_backend: Backend) -> None:
    result = wait_fails.result()
    run_id = result.out.splitlines()[0]
    record = local_backend.wait_for_record(run_id, timeout=BUILD_TIMEOUT)

    assert record.status == RunStatus.FAILED
    assert record.exit_code not in (None, 0)
    assert result.code == record.exit_code
    assert "about to fail" in result.out.splitlines()  # the log, on stdout without --json
    assert f"Run {run_id} FAILED (exit-code) after " in result.err  # the outcome line
    assert f"as run {run_id} (aws backend)." in result.err


@pytest.mark.slow
def test_logs_follow_of_a_failed_run_exits_with_the_builds_exit_code(wait_fails: Waiting, aws_machine: Cli) -> None:
    run_id = wait_fails.result().out.splitlines()[0]

    result = aws_machine("logs", "--follow", run_id)

    assert result.code == 1  # snakemake's, as push --wait gives it
    assert "about to fail" in result.out.splitlines()
    assert f"Run {run_id} FAILED (exit-code) after " in result.err


@pytest.mark.slow
def test_logs_of_a_rejected_run_says_there_never_will_be_one(
    rejected_run: str, machine: Cli, local_backend: Backend
) -> None:
    record = local_backend.wait_for_record(rejected_run, timeout=BUILD_TIMEOUT)

    result = machine("logs", rejected_run)

    assert (result.code, result.out) == (0, "")
    assert result.error_lines == [
        f"Run {rejected_run} was rejected before any job ran, so it has no log and never will: "
        f"{(record.reason or '').rstrip('.')}."
    ]


def test_push_of_a_folder_without_a_snakefile_uploads_nothing(
    local_cli: Cli, local_backend: Backend, tmp_path: Path
) -> None:
    folder = tmp_path / "no-snakefile-here"
    folder.mkdir()
    (folder / "README.md").write_text("not a build\n")

    result = local_cli("push", str(folder), "--wait")

    assert result.code == 1
    assert result.error_lines == [
        f"Error: {folder} has no Snakefile (nor workflow/Snakefile): is it a Snakemake build folder?"
    ]
    assert result.out == ""
    assert not [key for key in local_backend.keys("inbox/") if "no-snakefile-here" in key]


def test_push_of_a_missing_folder_uploads_nothing(local_cli: Cli, local_backend: Backend, tmp_path: Path) -> None:
    folder = tmp_path / "missing-build-folder"

    result = local_cli("push", str(folder))

    assert result.code == 1
    assert len(result.error_lines) == 1
    assert result.error_lines[0].startswith(f"Error: {folder} is not a folder")
    assert not [key for key in local_backend.keys("inbox/") if "missing-build-folder" in key]
    assert local_cli.pushes() == {}


def test_pull_with_an_unreadable_pushes_file_takes_the_run_as_not_pushed_here(local_cli: Cli) -> None:
    pushes = local_cli.home / "nsclient" / "pushes.json"
    pushes.parent.mkdir(parents=True)
    pushes.write_text('{"20261125T093000Z-zika-1a2b3c4d5e": "/tmp/zi')  # cut off mid-write
    run_id = "20261125T093000Z-zika-1a2b3c4d5e"

    result = local_cli("pull", run_id)

    assert result.code == 3
    assert len(result.error_lines) == 1 and result.error_lines[0].startswith(f"Error: No run {run_id!r}")


def test_arguments_after_dashes_on_a_command_other_than_push_are_a_usage_error(local_cli: Cli) -> None:
    result = local_cli("status", "20261125T093000Z-zika-1a2b3c4d5e", "--", "--forceall")

    assert result.code == 2
    assert "takes no arguments after --" in result.err


# --- status ---------------------------------------------------------------------------------------


@pytest.mark.slow
def test_status_json_prints_the_run_record(ok_run: Pushed, machine: Cli, local_backend: Backend) -> None:
    local_backend.wait_for_record(ok_run.run_id, timeout=BUILD_TIMEOUT)

    result = machine("status", ok_run.run_id, "--json")

    assert result.code == 0, result.err
    shown = result.json()
    assert set(CONTRACT_FIELDS) <= set(shown)
    assert shown == stored_record(local_backend, ok_run.run_id)
    assert (shown["run_id"], shown["status"], shown["exit_code"]) == (ok_run.run_id, "SUCCEEDED", 0)
    assert (shown["cpus"], shown["memory_mib"], shown["notify"]) == (2, 1024, "me@example.org")
    assert shown["snakemake_args"] == ["--forceall"]
    assert shown["workdir_url"].endswith(local_backend.run_key(ok_run.run_id, workdir_key))


@pytest.mark.slow
def test_status_shows_the_run_to_a_person(ok_run: Pushed, machine: Cli, local_backend: Backend) -> None:
    local_backend.wait_for_record(ok_run.run_id, timeout=BUILD_TIMEOUT)

    result = machine("status", ok_run.run_id)

    lines = result.out.splitlines()
    assert lines[0] == f"Run:         {ok_run.run_id}"
    assert "Status:      SUCCEEDED" in lines
    assert "Resources:   2 cpu, 1 GiB" in lines
    assert "Notify:      me@example.org" in lines


def test_status_of_a_malformed_run_id_is_exit_1(local_cli: Cli) -> None:
    result = local_cli("status", "not a run id")

    assert result.code == 1
    assert result.error_lines == [
        "Error: 'not a run id' is not a run id: run ids look like 20261125T093000Z-zika-1a2b3c4d5e."
    ]


def test_status_of_an_unknown_run_is_exit_3(local_cli: Cli) -> None:
    run_id = "20260101T000000Z-never-pushed-0123456789"

    result = local_cli("status", run_id)

    assert result.code == 3
    assert len(result.error_lines) == 1
    assert result.error_lines[0].startswith(f"Error: No run '{run_id}' in this backend.")


@pytest.mark.parametrize("command", ["logs", "cancel", "pull"])
def test_other_commands_refuse_malformed_and_unknown_run_ids(local_cli: Cli, command: str, tmp_path: Path) -> None:
    folder = [str(tmp_path / "x")] if command == "pull" else []

    bad = local_cli(command, "../../etc", *folder)
    unknown = local_cli(command, "20260101T000000Z-never-pushed-0123456789", *folder)

    assert (bad.code, unknown.code) == (1, 3)
    assert len(bad.error_lines) == 1 and len(unknown.error_lines) == 1
    assert not (tmp_path / "x").exists()


# --- logs -----------------------------------------------------------------------------------------


@pytest.mark.slow
def test_logs_prints_the_archived_log_after_the_end(ok_run: Pushed, machine: Cli, local_backend: Backend) -> None:
    local_backend.wait_for_record(ok_run.run_id, timeout=BUILD_TIMEOUT)
    archived = wait_for_log(local_backend, ok_run.run_id)

    result = machine("logs", ok_run.run_id)

    assert result.code == 0
    assert result.out.splitlines() == archived.splitlines()
    assert "the build ran" in result.out.splitlines()


# --- pull -----------------------------------------------------------------------------------------


@pytest.mark.slow
def test_pull_writes_only_results_into_the_pushed_folder(ok_run: Pushed, machine: Cli, local_backend: Backend) -> None:
    local_backend.wait_for_record(ok_run.run_id, timeout=BUILD_TIMEOUT)
    folder = ok_run.folder
    (folder / "data/input.txt").write_text("edited after the push\n")
    snakefile_mtime = (folder / "Snakefile").stat().st_mtime_ns

    first = machine("pull", ok_run.run_id)
    second = machine("pull", ok_run.run_id)

    assert first.code == 0, first.err
    written = [Path(line) for line in first.out.splitlines()]
    assert folder / "results/out.txt" in written
    assert all(path.is_relative_to(folder) for path in written)
    assert {path.relative_to(folder).parts[0] for path in written} <= {"results", ".snakemake"}
    assert (folder / "results/out.txt").read_text() == "built\n"
    assert (folder / "data/input.txt").read_text() == "edited after the push\n"
    assert (folder / "Snakefile").stat().st_mtime_ns == snakefile_mtime
    assert f"Pulled {len(written)} files into {folder}" in first.err
    assert second.code == 0
    assert second.out == ""
    assert f"Pulled 0 files into {folder} ({len(written)} already up to date" in second.err


@pytest.mark.slow
def test_pull_of_a_run_this_machine_did_not_push_needs_a_folder(ok_run: Pushed, aws_machine: Cli) -> None:
    result = aws_machine("pull", ok_run.run_id)

    assert result.code == 1
    assert result.error_lines == [f"Error: Give a folder to pull into: this machine did not push run {ok_run.run_id}."]


@pytest.mark.slow
def test_pull_of_a_rejected_run_says_it_has_no_results(
    rejected_run: str, machine: Cli, local_backend: Backend, tmp_path: Path
) -> None:
    assert local_backend.wait_for_record(rejected_run, timeout=BUILD_TIMEOUT).status == RunStatus.REJECTED
    destination = tmp_path / "results-here"

    result = machine("pull", rejected_run, str(destination))

    assert result.code == 1
    assert len(result.error_lines) == 1
    assert result.error_lines[0].startswith(f"Error: Run {rejected_run} was rejected (")
    assert result.error_lines[0].endswith("); it has no results.")
    assert not destination.exists()


def put_run(backend: Backend, bucket: str, record: RunRecord, workdir: bytes | None = None) -> None:
    """A run of the admin's, as the quiet machine (which has the admin's keys) made it."""
    s3 = backend.client("s3")
    owner = backend.client("sts").get_caller_identity()["UserId"]
    record = record.model_copy(update={"owner": owner})
    s3.put_object(Bucket=bucket, Key=record_key(record.run_id, owner), Body=record.to_json())
    if workdir is not None:
        s3.put_object(Bucket=bucket, Key=workdir_key(record.run_id, owner), Body=workdir)


def test_pull_refuses_hostile_members_and_writes_nothing_outside(
    quiet_cli: Cli, local_backend: Backend, quiet_bucket: str, tmp_path: Path
) -> None:
    run_id = f"20260101T000000Z-hostile-{uuid.uuid4().hex[:10]}"
    absolute = f"/tmp/nsclient-hostile-{uuid.uuid4().hex}.txt"
    members = {"../escaped.txt": "owned", "results/../../../escaped-deeper.txt": "owned", absolute: "owned"}
    workdir = zip_bytes({**members, "results/ok.txt": "fine"})
    put_run(
        local_backend,
        quiet_bucket,
        RunRecord(run_id=run_id, status="SUCCEEDED", submitted_at=stamp(timedelta(days=1))),
        workdir,
    )
    work = tmp_path / "work"
    destination = work / "a" / "b" / "build"

    result = quiet_cli("pull", run_id, str(destination))

    assert result.code == 0, result.err
    assert result.out.splitlines() == [str(destination / "results/ok.txt")]
    for name in members:
        assert f"Refused unsafe member {name!r}" in result.err
    written = {p.relative_to(work).as_posix() for p in work.rglob("*") if p.is_file()}
    assert written == {"a/b/build/results/ok.txt"}
    assert not Path(absolute).exists()


# --- list -----------------------------------------------------------------------------------------


@pytest.mark.slow
def test_list_shows_runs_newest_first(ok_run: Pushed, machine: Cli, local_backend: Backend) -> None:
    local_backend.wait_for_record(ok_run.run_id, timeout=BUILD_TIMEOUT)

    as_json = machine("list", "--json")
    as_text = machine("list")

    records = as_json.json()
    assert ok_run.run_id in [r["run_id"] for r in records]
    order = [(r["submitted_at"], r["run_id"]) for r in records]
    assert order == sorted(order, reverse=True)
    header, *rows = as_text.out.splitlines()
    assert header.split() == ["RUN", "STATUS", "FAILURE", "DURATION", "RESOURCES", "SUBMITTED", "SUBMITTER"]
    assert [row.split()[0] for row in rows] == [r["run_id"] for r in records]
    mine = next(row for row in rows if row.startswith(ok_run.run_id))
    assert "SUCCEEDED" in mine and "2 cpu, 1 GiB" in mine


def stamp(age: timedelta, now: datetime | None = None) -> str:
    return ((now or datetime.now(UTC)) - age).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_list_since_and_all_choose_the_window(quiet_cli: Cli, local_backend: Backend, quiet_bucket: str) -> None:
    tag = uuid.uuid4().hex[:6]
    ages = {"newest": timedelta(minutes=1), "recent": timedelta(hours=3), "old": timedelta(days=400)}
    ids = {name: f"20260101T000000Z-list-{name}-{tag}-0123456789" for name in ages}
    for name, age in ages.items():
        record = RunRecord(run_id=ids[name], status="SUCCEEDED", submitted_at=stamp(age))
        put_run(local_backend, quiet_bucket, record)

    def listed(*args: str) -> list[str]:
        result = quiet_cli("list", "--json", *args)
        assert result.code == 0, result.err
        return [r["run_id"] for r in result.json() if tag in r["run_id"]]

    assert listed("--all") == [ids["newest"], ids["recent"], ids["old"]]
    assert listed() == [ids["newest"], ids["recent"]]  # the last 30 days
    assert listed("--since", "1h") == [ids["newest"]]
    assert listed("--since", "2d") == [ids["newest"], ids["recent"]]
    bad = quiet_cli("list", "--since", "7x")
    assert bad.code == 1
    assert bad.error_lines == ["Error: --since takes a number and a unit (m, h, d, w), such as 7d or 12h, not '7x'."]
    assert quiet_cli("list", "--since", "1h", "--all").code == 2


def test_list_reads_each_run_from_the_run_index_as_the_backend_writes_it(
    quiet_cli: Cli, local_backend: Backend, quiet_bucket: str
) -> None:
    """Runs recorded by the backend (record and index summary, write_record) are listed from the listing of
    the index alone; a run recorded before the index, from its record; a run whose summary an earlier backend
    wrote beside its folder, from that summary; a run recorded twice, at its latest."""
    s3 = local_backend.client("s3")
    now = datetime.now(UTC)  # one clock: the durations listed are exact
    owner = local_backend.client("sts").get_caller_identity()["UserId"]
    tag = uuid.uuid4().hex[:6]
    names = ("done", "failed", "legacy", "again", "beside")
    ids = {name: f"20260101T000000Z-index-{name}-{tag}-0123456789" for name in names}
    base = {
        "owner": owner,
        "submitted_at": stamp(timedelta(hours=2), now),
        "started_at": stamp(timedelta(hours=1), now),
    }
    done = RunRecord(
        run_id=ids["done"], status="SUCCEEDED", cpus=4, memory_mib=8192, submitter="Ada", **base
    ).model_copy(update={"finished_at": stamp(timedelta(minutes=30), now)})
    failed = RunRecord(run_id=ids["failed"], status="FAILED", failure_class="out-of-memory", **base)
    for record in (done, failed):
        write_record(s3, quiet_bucket, record)
    put_run(local_backend, quiet_bucket, RunRecord(run_id=ids["legacy"], status="CANCELLED", **base))
    write_record(s3, quiet_bucket, RunRecord(run_id=ids["again"], status="SUBMITTED", **base))
    write_record(s3, quiet_bucket, RunRecord(run_id=ids["again"], status="SUCCEEDED", **base))
    beside = RunRecord(run_id=ids["beside"], status="FAILED", failure_class="timeout", cpus=2, **base).model_copy(
        update={"finished_at": stamp(timedelta(minutes=30), now)}
    )
    put_run(local_backend, quiet_bucket, beside)
    s3.put_object(Bucket=quiet_bucket, Key=legacy_summary_key(beside), Body=b"")

    def rows() -> dict[str, list[str]]:
        result = quiet_cli("list", "--all")
        assert result.code == 0, result.err
        return {row.split()[0]: row.split() for row in result.out.splitlines() if tag in row}

    listed = rows()
    assert listed[ids["done"]][1:9] == ["SUCCEEDED", "-", "30m", "00s", "4", "cpu,", "8", "GiB"]
    assert listed[ids["done"]][-1] == "Ada"
    assert listed[ids["failed"]][1:3] == ["FAILED", "out-of-memory"]
    assert listed[ids["legacy"]][1] == "CANCELLED"
    assert listed[ids["again"]][1] == "SUCCEEDED"
    assert listed[ids["beside"]][1:6] == ["FAILED", "timeout", "30m", "00s", "2"]
    assert list(listed) == sorted(listed, reverse=True)  # newest first (one second), then by run id

    # The table is the index's: with its record gone, the run is still listed from its summary;
    # --json prints whole records, so it reads them.
    s3.put_object(Bucket=quiet_bucket, Key=workdir_key(ids["done"], owner), Body=b"results")
    for name in ("done", "beside"):
        s3.delete_object(Bucket=quiet_bucket, Key=record_key(ids[name], owner))
    after = rows()
    assert (after[ids["done"]][1], after[ids["beside"]][1]) == ("SUCCEEDED", "FAILED")
    recent = quiet_cli("list").out.split()  # the last 30 days
    assert [recent.count(ids[name]) for name in names] == [1] * len(names)
    as_json = quiet_cli("list", "--all", "--json").json()
    assert {r["run_id"] for r in as_json if tag in r["run_id"]} == {ids["failed"], ids["legacy"], ids["again"]}


# --- the aws backend kind -------------------------------------------------------------------------


@pytest.mark.slow
def test_aws_status_list_and_pull(ok_run: Pushed, aws_machine: Cli, local_backend: Backend, tmp_path: Path) -> None:
    local_backend.wait_for_record(ok_run.run_id, timeout=BUILD_TIMEOUT)
    elsewhere = tmp_path / "another-copy"

    status = aws_machine("status", ok_run.run_id, "--json")
    listed = aws_machine("list", "--json", "--since", "1h")
    pulled = aws_machine("pull", ok_run.run_id, str(elsewhere))

    assert status.code == 0, status.err
    assert status.json() == stored_record(local_backend, ok_run.run_id)
    assert ok_run.run_id in [r["run_id"] for r in listed.json()]
    assert pulled.code == 0, pulled.err
    assert (elsewhere / "results/out.txt").read_text() == "built\n"
    assert not (elsewhere / "Snakefile").exists()  # an input: never written back
    assert not (elsewhere / "data").exists()


def test_aws_status_of_an_unknown_run_is_exit_3(aws_machine: Cli) -> None:
    result = aws_machine("status", "20260101T000000Z-never-pushed-0123456789")

    assert result.code == 3
