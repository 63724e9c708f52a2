"""What a person reads when they give a bad input or an unknown run: the right exit code, one plain
sentence with the source of a bad setting spelled out, and counts in the singular when there is one."""

from __future__ import annotations

import subprocess
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from nsclient_common.layout import record_key, workdir_key
from nsclient_common.record import RunRecord
from tests.client.helpers import Cli, aws_machine, build_folder
from tests.support import SNAKEFILE_OK, Backend, wait_until, zip_bytes

UNKNOWN_RUN = "20260101T000000Z-never-pushed-0123456789"


def test_pull_of_an_unknown_run_without_a_folder_says_there_is_no_such_run(local_cli: Cli) -> None:
    result = local_cli.process("pull", UNKNOWN_RUN)

    assert result.code == 3
    assert len(result.error_lines) == 1
    assert result.error_lines[0].startswith(f"Error: No run {UNKNOWN_RUN!r} in this backend.")


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--cpus", "-1"], "argument --cpus: cpus must be a whole number of at least 1, not '-1'"),
        (["--cpus", "0"], "argument --cpus: cpus must be a whole number of at least 1, not '0'"),
        (["--memory", "lots"], "argument --memory: can't read memory 'lots'"),
    ],
)
def test_a_bad_resource_option_is_a_usage_error(
    option: list[str], message: str, local_cli: Cli, local_backend: Backend, tmp_path: Path
) -> None:
    folder = build_folder(tmp_path / f"usage-{uuid.uuid4().hex[:8]}", SNAKEFILE_OK)

    result = local_cli.process("push", str(folder), *option)

    assert result.code == 2
    assert message in result.err
    assert "Traceback" not in result.err
    assert not [key for key in local_backend.keys("inbox/") if folder.name in key]


@pytest.mark.parametrize(
    ("layer", "origin"),
    [
        ("env", "(from environment variable NEXTSTRAIN_AWS_BATCH_CPUS)."),
        ("config", "(from [aws-batch] cpus in {config})."),
    ],
)
def test_a_bad_cpus_setting_names_where_it_comes_from(layer: str, origin: str, cli: Cli, tmp_path: Path) -> None:
    if layer == "config":
        cli.write_config("[aws-batch]\ncpus = many\n")
    folder = build_folder(tmp_path / "build", SNAKEFILE_OK)

    result = cli.process("push", str(folder), env={"NEXTSTRAIN_AWS_BATCH_CPUS": "many"} if layer == "env" else {})

    assert result.code == 1
    assert result.error_lines == [
        "Error: cpus must be a whole number of at least 1, not 'many' " + origin.format(config=cli.config_file)
    ]


def test_pull_counts_one_file_and_one_input_in_the_singular(local_backend: Backend, tmp_path: Path) -> None:
    bucket = f"nsclient-wording-{uuid.uuid4().hex[:8]}"
    admin = local_backend.client("s3")
    admin.create_bucket(Bucket=bucket)
    admin.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    machine = aws_machine(tmp_path / "home", local_backend, local_backend.admin, bucket=bucket)
    owner = local_backend.client("sts").get_caller_identity()["UserId"]
    run_id = f"20260101T000000Z-singular-{uuid.uuid4().hex[:10]}"
    record = RunRecord(
        run_id=run_id, status="SUCCEEDED", submitted_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), owner=owner
    )
    admin.put_object(Bucket=bucket, Key=record_key(run_id, owner), Body=record.to_json())
    # The upload (its first version) held the Snakefile; the results add one file.
    admin.put_object(Bucket=bucket, Key=workdir_key(run_id, owner), Body=zip_bytes({"Snakefile": SNAKEFILE_OK}))
    # S3 orders versions by LastModified, to the second: the results are put in a later second
    uploaded = admin.head_object(Bucket=bucket, Key=workdir_key(run_id, owner))["LastModified"]
    wait_until(
        lambda: datetime.now(UTC).replace(microsecond=0) > uploaded, timeout=5, what="a second later", interval=0.05
    )
    results = zip_bytes({"Snakefile": SNAKEFILE_OK, "results/out.txt": "built\n"})
    admin.put_object(Bucket=bucket, Key=workdir_key(run_id, owner), Body=results)
    destination = tmp_path / "results"

    result = machine.process("pull", run_id, str(destination))

    assert result.code == 0, result.err
    assert f"Pulled 1 file into {destination} (0 already up to date, 1 input left alone, 0 not selected)." in result.err


def test_demo_into_a_folder_of_something_else_refuses_and_keeps_it(cli: Cli, tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me\n")

    result = cli.process("demo", str(folder))

    assert result.code == 1
    assert result.error_lines == [f"Error: {folder} exists and is not an earlier demo's: give a new or empty folder."]
    assert [p.name for p in folder.iterdir()] == ["notes.txt"]
    assert not (cli.local_dir / "state.json").exists()  # no backend started for nothing


def test_the_demo_folder_is_ignored_by_git() -> None:
    checkout = Path(__file__).resolve().parents[2]

    ignored = subprocess.run(
        ["git", "-C", str(checkout), "check-ignore", "--quiet", "nsclient-demo/auspice/example.json"], check=False
    )

    assert ignored.returncode == 0
