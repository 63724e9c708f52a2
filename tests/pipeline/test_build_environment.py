"""A build's own environment variables (`push --env`, `--envdir`) reach its command and nowhere else,
and every job knows its region: the real state machine on the local backend, the CLI as a user runs it."""

from __future__ import annotations

import hashlib
import io
import json
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from nsclient_common.envdir import to_archive
from nsclient_common.layout import envd_key, record_key, workdir_key
from tests.client.helpers import Cli
from tests.support import SNAKEFILE_OK, zip_bytes

if TYPE_CHECKING:
    from tests.support import Backend

NOTIFY = "someone@example.org"

# The build writes what its command saw: a hash of the secret (never the secret), and the rest as is.
SNAKEFILE_REPORTS_ENV = """\
import hashlib, os

rule all:
    input: "results/env.txt"

rule report:
    output: "results/env.txt"
    run:
        secret = os.environ.get("BUILD_SECRET")
        seen = hashlib.sha256(secret.encode()).hexdigest() if secret is not None else "unset"
        with open(output[0], "w") as out:
            out.write(f"BUILD_SECRET_SHA256={seen}\\n")
            for name in ("FROM_ENVDIR", "AWS_DEFAULT_REGION"):
                out.write(f"{name}={os.environ.get(name, 'unset')}\\n")
"""


@dataclass
class SecretRun:
    run_id: str
    secret: str
    pushed_output: str  # what the push printed to stdout and stderr


@pytest.fixture(scope="module")
def secret_run(local_backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> SecretRun:
    """Given a build pushed with a distinctive secret from the environment (--env NAME) and a variable
    from an envdir, run to its end with a notice emailed."""
    home = tmp_path_factory.mktemp("secret-run")
    build = home / "env-build"
    build.mkdir()
    (build / "Snakefile").write_text(SNAKEFILE_REPORTS_ENV)
    envdir = home / "env.d"
    envdir.mkdir()
    (envdir / "FROM_ENVDIR").write_text("from-the-envdir\n")
    secret = f"s3cr3t-{uuid.uuid4().hex}"
    cli = Cli(home / "nextstrain-home").point_at(local_backend)

    pushed = cli(
        "push", str(build), "--env", "BUILD_SECRET", "--envdir", str(envdir), "--notify", NOTIFY, "--json",
        env={"BUILD_SECRET": secret},
    )  # fmt: skip

    assert pushed.code == 0, pushed.err
    run_id = pushed.json()["run_id"]
    local_backend.wait_for_record(run_id)
    return SecretRun(run_id=run_id, secret=secret, pushed_output=pushed.out + pushed.err)


def results(backend: Backend, run_id: str) -> dict[str, str]:
    body = (
        backend.client("s3")
        .get_object(Bucket=backend.info.bucket, Key=backend.run_key(run_id, workdir_key))["Body"]
        .read()
    )
    text = zipfile.ZipFile(io.BytesIO(body)).read("results/env.txt").decode()
    return dict(line.split("=", 1) for line in text.splitlines())


def job_log(backend: Backend, run_id: str) -> str:
    [job] = backend.batch_jobs(run_id)
    events = backend.client("logs").get_log_events(
        logGroupName="/aws/batch/job", logStreamName=job["container"]["logStreamName"], startFromHead=True
    )["events"]
    return "\n".join(event["message"] for event in events)


@pytest.mark.slow
def test_the_builds_command_sees_its_variables_and_its_region(local_backend: Backend, secret_run: SecretRun) -> None:
    record = local_backend.record(secret_run.run_id)
    assert record is not None
    assert record.status.value == "SUCCEEDED", record.reason

    seen = results(local_backend, secret_run.run_id)

    assert seen == {
        "BUILD_SECRET_SHA256": hashlib.sha256(secret_run.secret.encode()).hexdigest(),
        "FROM_ENVDIR": "from-the-envdir",
        "AWS_DEFAULT_REGION": local_backend.info.region,
    }


@pytest.mark.slow
def test_the_job_request_names_where_the_variables_are_and_its_region(
    local_backend: Backend, secret_run: SecretRun
) -> None:
    [job] = local_backend.batch_jobs(secret_run.run_id)

    environment = {e["name"]: e["value"] for e in job["container"]["environment"]}

    assert environment["AWS_DEFAULT_REGION"] == local_backend.info.region
    assert (
        environment["NEXTSTRAIN_ENVD_URL"]
        == f"s3://{local_backend.info.bucket}/{local_backend.run_key(secret_run.run_id, envd_key)}"
    )
    assert environment["NEXTSTRAIN_DELETE_ENVD"] == "1"
    assert "BUILD_SECRET" not in environment
    assert "FROM_ENVDIR" not in environment


@pytest.mark.slow
def test_the_secret_appears_nowhere_a_person_or_aws_can_see_it(local_backend: Backend, secret_run: SecretRun) -> None:
    run_id, secret = secret_run.run_id, secret_run.secret
    s3 = local_backend.client("s3")
    bucket = local_backend.info.bucket
    history = local_backend.client("stepfunctions").get_execution_history(
        executionArn=local_backend.execution_arn(run_id), maxResults=1000
    )["events"]
    record_body = s3.get_object(Bucket=bucket, Key=local_backend.run_key(run_id, record_key))["Body"].read().decode()
    email = (Path(local_backend.info.outbox) / f"{run_id}.eml").read_text()

    seen_by = {
        "Batch DescribeJobs": json.dumps(local_backend.batch_jobs(run_id), default=str),
        "the execution history": json.dumps(history, default=str),
        "the run record": record_body,
        "the notice marker": json.dumps(local_backend.notice(run_id)),
        "the notice on the topic": json.dumps(local_backend.topic_messages(run_id)),
        "the emailed notice": email,
        "the live log": job_log(local_backend, run_id),
        "the archived log": local_backend.archived_log(run_id),
        "the push's output": secret_run.pushed_output,
    }

    # The run's story is all there (so the checks read real content) ...
    assert run_id in seen_by["the emailed notice"]
    assert "NEXTSTRAIN_ENVD_URL" in seen_by["Batch DescribeJobs"]
    assert "results/env.txt" in seen_by["the live log"]
    assert "results/env.txt" in seen_by["the archived log"]
    # ... and the secret in none of it
    assert [where for where, text in seen_by.items() if secret in text] == []


@pytest.mark.slow
def test_the_variables_are_deleted_once_the_job_has_read_them(local_backend: Backend, secret_run: SecretRun) -> None:
    s3 = local_backend.client("s3")
    bucket = local_backend.info.bucket
    record = local_backend.record(secret_run.run_id)
    assert record is not None and record.upload is not None
    inbox_envd = record.upload.key.removesuffix(".zip") + ".env.d"

    # The copy sent to inbox/ is gone, every version of it (not kept as a noncurrent version)
    inbox_versions = s3.list_object_versions(Bucket=bucket, Prefix=inbox_envd)
    assert inbox_versions.get("Versions", []) == []
    assert inbox_versions.get("DeleteMarkers", []) == []
    # And the job deleted the run's copy after reading it, as NEXTSTRAIN_DELETE_ENVD asks
    assert local_backend.keys(local_backend.run_key(secret_run.run_id, envd_key)) == []


def put_envd(backend: Backend, name: str) -> str:
    """inbox/<name>.env.d as push sends it; returns its version."""
    response = backend.client("s3").put_object(
        Bucket=backend.info.bucket, Key=f"inbox/{name}.env.d", Body=to_archive({"BUILD_SECRET": "unused"})
    )
    version: str = response["VersionId"]
    return version


@pytest.mark.slow
def test_a_rejected_upload_has_its_variables_deleted(local_backend: Backend) -> None:
    # Given variables sent with an upload that will be rejected (it has no Snakefile)
    name = f"rejected-env-{uuid.uuid4().hex[:8]}"
    version = put_envd(local_backend, name)
    run_id = local_backend.upload(
        zip_bytes({"README.md": "no build\n"}), name=name, metadata={"env-d-version": version}
    )

    record = local_backend.wait_for_record(run_id)

    # Then the run is rejected for what is wrong with the build, and the variables are gone for good
    assert record.status.value == "REJECTED"
    assert "Snakefile" in (record.reason or "")
    versions = local_backend.client("s3").list_object_versions(
        Bucket=local_backend.info.bucket, Prefix=f"inbox/{name}.env.d"
    )
    assert versions.get("Versions", []) == []


@pytest.mark.slow
def test_an_upload_naming_variables_that_are_not_there_is_rejected(local_backend: Backend) -> None:
    name = f"missing-env-{uuid.uuid4().hex[:8]}"
    run_id = local_backend.upload(
        zip_bytes({"Snakefile": SNAKEFILE_OK}), name=name, metadata={"env-d-version": "no-such-version"}
    )

    record = local_backend.wait_for_record(run_id)

    assert record.status.value == "REJECTED"
    assert record.reason == (
        f"The build's environment variables (inbox/{name}.env.d, version no-such-version) are missing: push it again."
    )
    assert local_backend.batch_jobs(run_id) == []
