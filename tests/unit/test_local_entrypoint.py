"""The local job's start-up behaves as the stock nextstrain/base image's (/sbin/entrypoint chaining
create-envd, envdir, delete-envd, chdir-workdir and /sbin/entrypoint-aws-batch), seen from the build:
what it finds in its folder, where it runs, what it gets back, what the log shows and how it exits."""

from __future__ import annotations

import io
import os
import stat
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import boto3
import pytest

from nsclient.local import entrypoint
from nsclient_common.envdir import to_archive

BUCKET = "builds"
KEY = "runs/zika-0123456789/workdir.zip"
URL = f"s3://{BUCKET}/{KEY}"
ENVD_KEY = "runs/zika-0123456789/env.d.zip"
OLD = (2021, 3, 4, 5, 6, 8)  # an input's time, long before the job


@dataclass
class Member:
    name: str
    data: bytes = b""
    mode: int = 0o100644
    date_time: tuple[int, int, int, int, int, int] = OLD


def workdir_zip(*members: Member) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for member in members:
            info = zipfile.ZipInfo(member.name, date_time=member.date_time)
            info.create_system = 3
            info.external_attr = member.mode << 16
            archive.writestr(info, member.data)
    return buffer.getvalue()


SNAKEFILE = Member("Snakefile", b"rule all:\n    input: []\n")


@dataclass
class Job:
    root: Path

    def run(self, *command: str, workdir: bytes | None = None, env: dict[str, str] | None = None) -> int:
        client = boto3.client("s3")
        client.put_object(Bucket=BUCKET, Key=KEY, Body=workdir or workdir_zip(SNAKEFILE))
        with mock.patch.dict(os.environ, {entrypoint.ROOT_VAR: str(self.root), **(env or {})}):
            return entrypoint.main(list(command))

    def results(self) -> zipfile.ZipFile:
        body = boto3.client("s3").get_object(Bucket=BUCKET, Key=KEY)["Body"].read()
        return zipfile.ZipFile(io.BytesIO(body))

    @property
    def build(self) -> Path:
        return self.root / "nextstrain" / "build"


@pytest.fixture
def job(moto_account: str, tmp_path: Path) -> Iterator[Job]:
    environment = {
        "AWS_DEFAULT_REGION": "us-east-1",
        entrypoint.WORKDIR_URL_VAR: URL,
        "PATH": os.environ.get("PATH", ""),
    }
    with mock.patch.dict(os.environ, environment):
        for name in (entrypoint.VERBOSE_VAR, entrypoint.WORKDIR_VAR, "NEXTSTRAIN_ENVD_URL", "NEXTSTRAIN_DELETE_ENVD"):
            os.environ.pop(name, None)
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        yield Job(tmp_path / "container")


def sh(script: str) -> list[str]:
    return ["sh", "-c", script]


def test_entrypoint_keeps_an_executable_script_executable(job: Job) -> None:
    script = Member("scripts/tree.sh", b"#!/bin/sh\necho built > tree.txt\n", mode=0o100755)

    exited = job.run("env", "--chdir", "/nextstrain/build", "--", "./scripts/tree.sh", workdir=workdir_zip(script))

    assert exited == 0
    assert job.results().read("tree.txt") == b"built\n"
    assert job.results().getinfo("scripts/tree.sh").external_attr >> 16 == 0o100755


def test_entrypoint_keeps_input_mtimes_so_unchanged_inputs_stay_older(job: Job) -> None:
    data = Member("data/sequences.fasta", b">a\nACGT\n")

    job.run(
        *sh("python3 -c 'import os; print(int(os.stat(\"data/sequences.fasta\").st_mtime))' > seen"),
        workdir=workdir_zip(SNAKEFILE, data),
    )

    results = job.results()
    assert int(results.read("seen")) == 1614834368  # 2021-03-04 05:06:08 UTC, the member's time
    assert results.getinfo("data/sequences.fasta").date_time == OLD  # not rewritten: unchanged


def test_entrypoint_restores_symlinks_and_returns_links_as_their_targets_content(job: Job) -> None:
    link = Member("config/current.yaml", b"base.yaml", mode=0o120777)
    base = Member("config/base.yaml", b"x: 1\n")

    exited = job.run(
        *sh("test -L config/current.yaml && ln -s config/base.yaml latest.yaml"), workdir=workdir_zip(base, link)
    )

    assert exited == 0
    results = job.results()
    assert results.read("latest.yaml") == b"x: 1\n"
    assert stat.S_ISREG(results.getinfo("latest.yaml").external_attr >> 16)


def test_entrypoint_keeps_the_entries_of_files_the_build_deleted(job: Job) -> None:
    job.run(*sh("rm Snakefile && mkdir -p results/empty"))

    names = job.results().namelist()
    assert "Snakefile" in names
    assert "results/" in names and "results/empty/" in names  # folders get entries too


def test_entrypoint_returns_snakemake_log_metadata_and_storage_only(job: Job) -> None:
    folders = ".snakemake/log .snakemake/metadata .snakemake/conda"
    job.run(*sh(f"mkdir -p {folders} && touch .snakemake/log/a .snakemake/metadata/b .snakemake/conda/c"))

    names = set(job.results().namelist())
    assert {".snakemake/log/a", ".snakemake/metadata/b"} <= names
    assert not {n for n in names if n.startswith(".snakemake/conda")}


def test_entrypoint_runs_the_command_in_the_build_folder(job: Job) -> None:
    job.run(*sh("pwd > where"))

    assert Path(job.results().read("where").decode().strip()) == job.build


def test_entrypoint_traces_its_steps_unless_verbose_is_0(job: Job, capfd: pytest.CaptureFixture[str]) -> None:
    job.run("true")
    verbose = capfd.readouterr().out
    job.run("true", env={entrypoint.VERBOSE_VAR: "0"})
    quiet = capfd.readouterr().out

    assert "+ unzip -: -o /nextstrain/build.zip" in verbose
    assert "+ true" in verbose
    assert "+ " not in quiet
    assert f"download: {URL} to /nextstrain/build.zip" in quiet  # the tools' own output stays


def test_entrypoint_exports_envd_variables_and_deletes_the_archive_when_asked(job: Job) -> None:
    s3 = boto3.client("s3")
    s3.put_object(Bucket=BUCKET, Key=ENVD_KEY, Body=to_archive({"GREETING": "hello\nworld", "HOME_TEAM": None}))
    env = {"NEXTSTRAIN_ENVD_URL": f"s3://{BUCKET}/{ENVD_KEY}", "NEXTSTRAIN_DELETE_ENVD": "1", "HOME_TEAM": "x"}

    envd = job.root / "nextstrain/env.d"
    job.run(*sh(f'printf "%s|%s" "$GREETING" "${{HOME_TEAM-unset}}" > seen; ls -A {envd} > envd'), env=env)

    results = job.results()
    assert results.read("seen") == b"hello\nworld|unset"
    assert results.read("envd") == b""  # emptied before the build ran
    assert s3.list_objects_v2(Bucket=BUCKET, Prefix=ENVD_KEY).get("KeyCount") == 0


def test_entrypoint_keeps_the_envd_files_without_delete(job: Job) -> None:
    boto3.client("s3").put_object(Bucket=BUCKET, Key=ENVD_KEY, Body=to_archive({"GREETING": "hi"}))

    job.run("true", env={"NEXTSTRAIN_ENVD_URL": f"s3://{BUCKET}/{ENVD_KEY}"})

    assert (job.root / "nextstrain/env.d/GREETING").read_text() == "hi\n"


@pytest.mark.parametrize(
    ("command", "status"),
    [
        (sh("exit 3"), 3),
        (sh("kill -9 $$"), 137),  # as bash reports a command ended by SIGKILL
        (["no-such-program"], 127),
    ],
)
def test_entrypoint_exits_with_the_commands_status_after_returning_results(
    job: Job, command: list[str], status: int
) -> None:
    assert job.run(*command) == status
    assert "Snakefile" in job.results().namelist()


def test_entrypoint_fails_without_running_when_the_workdir_is_missing(
    job: Job, capfd: pytest.CaptureFixture[str]
) -> None:
    with mock.patch.dict(os.environ, {entrypoint.WORKDIR_URL_VAR: f"s3://{BUCKET}/runs/none/workdir.zip"}):
        exited = job.run(*sh("touch ran"))

    assert exited == 1
    assert "fatal error" in capfd.readouterr().err
    assert not (job.build / "ran").exists()


def test_entrypoint_refuses_a_workdir_url_it_has_no_handler_for(job: Job, capfd: pytest.CaptureFixture[str]) -> None:
    with mock.patch.dict(os.environ, {entrypoint.WORKDIR_URL_VAR: "https://example.org/build.zip"}):
        assert job.run("true") == 1
    assert "entrypoint-aws-batch: No handler for NEXTSTRAIN_AWS_BATCH_WORKDIR_URL" in capfd.readouterr().err
