"""A build from upload to notice: the real state machine on the local backend, real jobs as local processes.

The builds here run side by side (each costs seconds): the module's fixture uploads them all, and the
tests then wait for, and check, what the user would see of each.
"""

from __future__ import annotations

import copy
import io
import json
import re
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from nsclient_common.layout import workdir_key
from nsclient_common.runid import build_name, run_id_for_upload
from nsclient_common.usage import wrap_command
from tests.support import SNAKEFILE_FAILS, SNAKEFILE_OK, Backend, wait_until, zip_bytes

EVENTS = Path(__file__).resolve().parents[1] / "events" / "start_run"
START_RUN_FUNCTION = "nsclient-local-StartRunFunction"
NOTIFY = "someone@example.org"
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


@dataclass
class Upload:
    key: str
    version_id: str
    body: bytes
    run_id: str


@dataclass
class Builds:
    succeeds: Upload  # version 1 of the key
    fails: Upload  # version 2 of the same key
    racing_deliveries: list[dict[str, Any]]  # StartRun's answers to 3 deliveries at once as version 1 landed


def put_upload(backend: Backend, key: str, body: bytes, metadata: dict[str, str]) -> Upload:
    response = backend.client("s3").put_object(Bucket=backend.info.bucket, Key=key, Body=body, Metadata=metadata)
    version = response["VersionId"]
    return Upload(key=key, version_id=version, body=body, run_id=run_id_for_upload(key, version))


def object_created_event(backend: Backend, upload: Upload) -> dict[str, Any]:
    """The EventBridge event S3 sends for the upload: the sample in tests/events, filled in."""
    event: dict[str, Any] = json.loads((EVENTS / "object_created.json").read_text())
    event["resources"] = [f"arn:aws:s3:::{backend.info.bucket}"]
    event["detail"]["bucket"]["name"] = backend.info.bucket
    event["detail"]["object"].update({"key": upload.key, "version-id": upload.version_id, "size": len(upload.body)})
    return event


def deliver(backend: Backend, event: dict[str, Any]) -> dict[str, Any]:
    """Invoke StartRun with an event, as EventBridge does; its answer."""
    response = backend.client("lambda").invoke(FunctionName=START_RUN_FUNCTION, Payload=json.dumps(event).encode())
    answer: dict[str, Any] = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, answer
    return answer


def deliver_at_once(backend: Backend, event: dict[str, Any], times: int) -> list[dict[str, Any]]:
    with ThreadPoolExecutor(times) as pool:
        return list(pool.map(lambda _: deliver(backend, copy.deepcopy(event)), range(times)))


def executions_named(backend: Backend, run_id: str) -> list[dict[str, Any]]:
    pages = backend.client("stepfunctions").get_paginator("list_executions")
    return [
        e
        for page in pages.paginate(stateMachineArn=backend.info.state_machine_arn)
        for e in page["executions"]
        if e["name"] == run_id
    ]


def wait_until_started(backend: Backend, run_id: str, timeout: float = 30) -> None:
    wait_until(lambda: executions_named(backend, run_id), timeout=timeout, what=f"an execution {run_id}")


def outbox_email(backend: Backend, run_id: str) -> EmailMessage:
    message = message_from_bytes((Path(backend.info.outbox) / f"{run_id}.eml").read_bytes(), policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


@pytest.fixture(scope="module")
def builds(local_backend: Backend) -> Builds:
    """Given two versions of one upload key, put at once so that their builds run side by side:
    version 1 a build that succeeds (2 cpus, 1 GiB), whose event is also delivered 3 more times at once
    as it lands (racing the delivery S3 makes itself), and version 2 a build that fails."""
    key = "inbox/run-build.zip"
    # Warm StartRun first: the local backend loads a handler module on first use, and concurrent first uses
    # race in that load (a local-backend artefact: each Lambda instance loads its own), not in StartRun.
    ignored = object_created_event(
        local_backend, Upload(key="elsewhere/warm-up.zip", version_id="1", body=b"", run_id="")
    )
    assert deliver(local_backend, ignored)["started"] is False
    succeeds = put_upload(
        local_backend,
        key,
        zip_bytes({"Snakefile": SNAKEFILE_OK, "data/input.txt": "input\n"}),
        {"cpus": "2", "memory": "1GiB", "notify": NOTIFY},
    )
    racing = deliver_at_once(local_backend, object_created_event(local_backend, succeeds), 3)
    fails = put_upload(local_backend, key, zip_bytes({"Snakefile": SNAKEFILE_FAILS}), {"notify": NOTIFY})
    return Builds(succeeds=succeeds, fails=fails, racing_deliveries=racing)


# First, while the build still runs: a redelivery must not find it "started" again.
def assert_one_notice(backend: Backend, run_id: str, subject: str, *, topic_says: list[str], email_says: str) -> None:
    """Exactly one notice: marked sent, one message on the topic, one email to the notify address."""
    assert backend.notice(run_id)["state"] == "sent"
    [(topic_subject, topic_body)] = backend.topic_messages(run_id)
    assert topic_subject.startswith(subject + " in "), "the subject ends with how long the run took"
    for phrase in topic_says:
        assert phrase in topic_body
    email = outbox_email(backend, run_id)
    assert (email["To"], email["Subject"]) == (NOTIFY, topic_subject)
    plain, html = email.get_body(("plain",)), email.get_body(("html",))
    assert plain is not None and html is not None, "the notice is text and HTML"
    assert email_says in plain.get_content() and email_says in html.get_content()


def test_start_run_redelivered_event_starts_nothing(local_backend: Backend, builds: Builds) -> None:
    # Given the upload's run has started
    run_id = builds.succeeds.run_id
    wait_until_started(local_backend, run_id)
    event = object_created_event(local_backend, builds.succeeds)

    # When the same event is delivered twice more, then 3 times at once
    answers = [deliver(local_backend, event), deliver(local_backend, event)]
    answers += deliver_at_once(local_backend, event, 3)

    # Then every delivery names the same run and starts nothing
    for answer in answers:
        assert answer == {"run_id": run_id, "started": False, "reason": "duplicate delivery: the run exists already"}

    # And the run has one execution, one Batch job and one notice
    local_backend.wait_for_record(run_id)
    assert len(executions_named(local_backend, run_id)) == 1
    assert len(local_backend.batch_jobs(run_id)) == 1
    assert len(local_backend.topic_messages(run_id)) == 1


def test_start_run_concurrent_deliveries_start_one_run(local_backend: Backend, builds: Builds) -> None:
    # Given 3 deliveries of the event at once, as the upload landed (S3's own delivery racing them)
    run_id = builds.succeeds.run_id

    # Then they name one run, and at most one of them started it
    assert [a["run_id"] for a in builds.racing_deliveries] == [run_id] * 3
    assert sum(a["started"] for a in builds.racing_deliveries) <= 1
    # And there is one execution, one Batch job and one notice
    local_backend.wait_for_record(run_id)
    assert len(executions_named(local_backend, run_id)) == 1
    assert len(local_backend.batch_jobs(run_id)) == 1
    assert len(local_backend.topic_messages(run_id)) == 1


def test_start_run_ignores_objects_outside_the_inbox(local_backend: Backend, builds: Builds) -> None:
    event = object_created_event(local_backend, builds.succeeds)
    event["detail"]["object"]["key"] = workdir_key(builds.succeeds.run_id, None)  # the job writing its results back
    answer = deliver(local_backend, event)
    assert answer["started"] is False and answer["run_id"] is None
    assert answer["reason"].startswith("not an upload")


def test_run_build_succeeding_build_records_its_run(local_backend: Backend, builds: Builds) -> None:
    upload = builds.succeeds
    bucket = local_backend.info.bucket

    # When the build has run
    record = local_backend.wait_for_record(upload.run_id)

    # Then run.json tells the whole story
    jobs = local_backend.batch_jobs(upload.run_id)
    assert len(jobs) == 1
    assert record.status == "SUCCEEDED"
    assert record.failure_class is None
    assert record.exit_code == 0
    assert (record.cpus, record.memory_mib) == (2, 1024)
    assert record.job_id == jobs[0]["jobId"]
    assert record.execution_arn == local_backend.execution_arn(upload.run_id)
    assert record.workdir_url == f"s3://{bucket}/runs/{upload.run_id}/workdir.zip"
    assert record.log_url == f"s3://{bucket}/runs/{upload.run_id}/logs/build.log"
    assert record.notify == NOTIFY
    assert record.upload is not None and record.upload.version_id == upload.version_id
    times = [record.submitted_at, record.started_at, record.finished_at]
    assert all(t is not None and ISO_UTC.match(t) for t in times), times
    assert times == sorted(times)  # type: ignore[type-var]
    assert local_backend.wait_for_execution(upload.run_id)["status"] == "SUCCEEDED"

    # And the job's output is archived
    log = local_backend.archived_log(upload.run_id)
    assert "the build ran" in log
    assert "Shell command: echo built > results/out.txt && echo the build ran" in log

    # And one notice went out, to the topic and by email
    assert_one_notice(
        local_backend,
        upload.run_id,
        f"[nsclient] {build_name(upload.key)} SUCCEEDED",
        topic_says=["The build succeeded.", f"nsclient pull {upload.run_id}"],
        email_says="The build succeeded.",
    )


def test_run_build_job_follows_the_nextstrain_cli_contract(local_backend: Backend, builds: Builds) -> None:
    upload = builds.succeeds
    local_backend.wait_for_record(upload.run_id)

    [job] = local_backend.batch_jobs(upload.run_id)

    container = job["container"]
    # snakemake as the Nextstrain CLI runs it, under the script that measures what the job used
    assert container["command"] == [
        "/sbin/entrypoint-aws-batch",
        "env",
        "--chdir",
        "/nextstrain/build",
        "--",
        *wrap_command(
            [
                "snakemake",
                "--cores=2",
                "--resources=mem_mb=1024",
                "--printshellcmds",
                "--benchmark-extended",
                "--rerun-incomplete",
            ]
        ),
    ]
    environment = {e["name"]: e["value"] for e in container["environment"]}
    workdir_url = f"s3://{local_backend.info.bucket}/runs/{upload.run_id}/workdir.zip"
    assert environment["NEXTSTRAIN_AWS_BATCH_WORKDIR_URL"] == workdir_url
    requirements = {r["type"]: r["value"] for r in container.get("resourceRequirements", [])}
    assert requirements == {"VCPU": "2", "MEMORY": "1024"}


def test_run_build_results_are_written_back_to_the_workdir(local_backend: Backend, builds: Builds) -> None:
    upload = builds.succeeds
    local_backend.wait_for_record(upload.run_id)

    body = local_backend.client("s3").get_object(Bucket=local_backend.info.bucket, Key=workdir_key(upload.run_id, None))
    with zipfile.ZipFile(io.BytesIO(body["Body"].read())) as workdir:
        assert workdir.read("results/out.txt") == b"built\n"
        assert workdir.read("data/input.txt") == b"input\n"  # the build folder as uploaded, plus results


def test_run_build_failing_build_records_the_failed_rule(local_backend: Backend, builds: Builds) -> None:
    upload = builds.fails
    bucket = local_backend.info.bucket

    # When the build has run and its job exited non-zero
    record = local_backend.wait_for_record(upload.run_id)

    # Then run.json says it failed, in which rule, and with what exit code
    jobs = local_backend.batch_jobs(upload.run_id)
    assert len(jobs) == 1
    assert record.status == "FAILED"
    assert record.failure_class == "exit-code"
    assert record.exit_code not in (None, 0)
    assert record.failed_rule == "broken"
    assert record.rule_exit_code == 3
    assert record.reason == (
        "The build failed in rule broken: its command exited with status 3,"
        f" so snakemake stopped with exit code {record.exit_code}."
    )
    assert record.job_id == jobs[0]["jobId"]
    assert record.execution_arn == local_backend.execution_arn(upload.run_id)
    assert record.workdir_url == f"s3://{bucket}/runs/{upload.run_id}/workdir.zip"
    assert record.log_url == f"s3://{bucket}/runs/{upload.run_id}/logs/build.log"
    times = [record.submitted_at, record.started_at, record.finished_at]
    assert all(t is not None and ISO_UTC.match(t) for t in times), times

    # And the execution failed as the build did
    execution = local_backend.wait_for_execution(upload.run_id)
    assert (execution["status"], execution.get("error")) == ("FAILED", "BuildFailed")

    # And the log holds the job's output up to the failure
    log = local_backend.archived_log(upload.run_id)
    assert "about to fail" in log
    assert "Error in rule broken:" in log

    # And one notice names the failed rule
    assert_one_notice(
        local_backend,
        upload.run_id,
        f"[nsclient] {build_name(upload.key)} FAILED (exit-code)",
        topic_says=["The build failed in rule broken", f"nsclient logs {upload.run_id}"],
        email_says="rule broken",
    )


def test_start_run_new_version_of_a_key_is_a_new_run(local_backend: Backend, builds: Builds) -> None:
    # Given two uploads to the same key
    first, second = builds.succeeds, builds.fails
    assert first.key == second.key and first.version_id != second.version_id

    # Then each is a run of its own, which built its own version
    assert first.run_id != second.run_id
    assert len(executions_named(local_backend, first.run_id)) == 1
    assert len(executions_named(local_backend, second.run_id)) == 1
    records = [local_backend.wait_for_record(first.run_id), local_backend.wait_for_record(second.run_id)]
    assert [r.status for r in records] == ["SUCCEEDED", "FAILED"]
    assert [r.upload.version_id for r in records if r.upload] == [first.version_id, second.version_id]
