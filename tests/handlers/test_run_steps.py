"""The state machine's Lambda steps, each from the state it is given (samples in tests/events/): PrepareRun
turns an upload into a job request, CollectLogs archives the job's log, FinalizeRun makes the record final and
NotifyRun sends the notice once."""

from __future__ import annotations

import json
import os
import time
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

import pytest

from nsclient_common.layout import log_key, notice_key, record_key, workdir_key
from nsclient_common.observability import NOTICE_DELIVERIES, RUNS_FAILED
from nsclient_common.record import FailureClass, RunRecord, RunStatus, utc_now
from nsclient_common.runstore import read_record, write_record
from tests.handlers.conftest import (
    ACCOUNT,
    OWNER,
    REGION,
    RUN_ID,
    LambdaContext,
    Stack,
    client,
    event,
    handler,
    metrics_emitted,
)
from tests.support import SNAKEFILE_OK, zip_bytes


def prepare_input(stack: Stack, build: bytes, metadata: dict[str, str] | None = None) -> dict[str, Any]:
    state = event("prepare_run/execution_input")
    state["upload"]["bucket"] = stack.bucket
    put = stack.s3.put_object(Bucket=stack.bucket, Key=state["upload"]["key"], Body=build, Metadata=metadata or {})
    state["upload"].update({"version_id": put["VersionId"], "size": len(build)})
    return state


def test_prepare_copies_the_upload_records_the_run_and_asks_for_its_job(stack: Stack) -> None:
    build = zip_bytes({"Snakefile": SNAKEFILE_OK})
    state = prepare_input(stack, build, {"cpus": "2", "memory": "2GiB"})
    team_role = f"arn:aws:iam::{ACCOUNT}:role/NextstrainJobsRole"
    client("batch").register_job_definition(
        jobDefinitionName="nextstrain-job",
        type="container",
        containerProperties={"image": "nextstrain/base:latest", "jobRoleArn": team_role, "vcpus": 4, "memory": 7400},
    )

    output = handler("prepare_run").lambda_handler(state, LambdaContext("PrepareRunFunction"))

    assert output["accepted"] is True and output["reason"] is None
    workdir = stack.s3.get_object(Bucket=stack.bucket, Key=workdir_key(RUN_ID, OWNER))
    assert workdir["Body"].read() == build
    record = read_record(stack.s3, stack.bucket, RUN_ID, OWNER)
    # The record names the upload's version of workdir.zip, which the job's results will follow.
    assert record.input_version == workdir["VersionId"]
    assert (record.status, record.owner, record.cpus, record.memory_mib) == (RunStatus.SUBMITTED, OWNER, 2, 2048)
    job = output["job"]
    assert (job["JobName"], job["JobQueue"]) == (RUN_ID, stack.job_queue)
    # The job runs as the owner's own role (made now, under the stack's path and boundary), named by the owner's
    # copy of the team's definition.
    assert job["JobDefinition"].startswith(f"nextstrain-job_{OWNER}_")
    (definition,) = client("batch").describe_job_definitions(jobDefinitionName=job["JobDefinition"])["jobDefinitions"]
    role_name = definition["containerProperties"]["jobRoleArn"].rsplit("/", 1)[1]
    role = client("iam").get_role(RoleName=role_name)["Role"]
    assert role["Path"] == os.environ["JOB_ROLE_PATH"] and role["Arn"] != team_role
    assert role["PermissionsBoundary"]["PermissionsBoundaryArn"] == os.environ["JOB_ROLE_BOUNDARY_ARN"]
    policy = client("iam").get_role_policy(RoleName=role_name, PolicyName="OwnRunFolders")["PolicyDocument"]
    assert policy["Statement"][0]["Resource"] == f"arn:aws:s3:::{stack.bucket}/runs/{OWNER}/*"
    environment = {e["Name"]: e["Value"] for e in job["ContainerOverrides"]["Environment"]}
    assert environment["NEXTSTRAIN_AWS_BATCH_WORKDIR_URL"] == f"s3://{stack.bucket}/{workdir_key(RUN_ID, OWNER)}"
    assert {"Type": "VCPU", "Value": "2"} in job["ContainerOverrides"]["ResourceRequirements"]


def test_prepare_rejects_a_build_without_a_snakefile_and_counts_it(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    state = prepare_input(stack, zip_bytes({"README.md": "no build here"}))

    output = handler("prepare_run").lambda_handler(state, LambdaContext("PrepareRunFunction"))

    assert output["accepted"] is False and "Snakefile" in output["reason"]
    record = read_record(stack.s3, stack.bucket, RUN_ID, OWNER)
    assert (record.status, record.failure_class) == (RunStatus.REJECTED, FailureClass.REJECTED)
    assert "Contents" not in stack.s3.list_objects_v2(Bucket=stack.bucket, Prefix=workdir_key(RUN_ID, OWNER))
    failed = [m for m in metrics_emitted(capsys.readouterr().out) if m["metric"] == RUNS_FAILED]
    assert [m["failure_class"] for m in failed] == ["rejected"]


def test_collect_archives_the_failed_jobs_log(stack: Stack) -> None:
    state = event("collect_logs/job_failed")
    stream = json.loads(state["errors"]["SubmitBuildJob"]["Cause"])["Container"]["LogStreamName"]
    stack.logs.create_log_stream(logGroupName="/aws/batch/job", logStreamName=stream)
    lines = ["Building DAG of jobs...", "rule filter:", "Error in rule filter:"]
    stack.logs.put_log_events(
        logGroupName="/aws/batch/job",
        logStreamName=stream,
        logEvents=[{"timestamp": int(time.time() * 1000) + n, "message": line} for n, line in enumerate(lines)],
    )

    output = handler("collect_logs").lambda_handler(state, LambdaContext("CollectLogsFunction"))

    archived = stack.s3.get_object(Bucket=stack.bucket, Key=log_key(RUN_ID, OWNER))["Body"].read().decode()
    assert archived.splitlines() == lines
    assert output["log"]["lines"] == 3 and output["log"]["failed_rule"] == "filter"
    assert (output["job"]["status"], output["job"]["exit_code"]) == ("FAILED", 1)
    assert output["on_demand_job_queue"] is None


def test_finalize_records_the_failed_build_and_composes_its_notice(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    submitted = RunRecord(run_id=RUN_ID, status=RunStatus.SUBMITTED, submitted_at=utc_now(), owner=OWNER)
    submitted = submitted.model_copy(update={"notify": "someone@example.org"})
    write_record(stack.s3, stack.bucket, submitted)

    output = handler("finalize_run").lambda_handler(
        event("finalize_run/job_failed_logs_collected"), LambdaContext("FinalizeRunFunction")
    )

    record = read_record(stack.s3, stack.bucket, RUN_ID, OWNER)
    assert (record.status, record.failure_class, record.exit_code) == (RunStatus.FAILED, FailureClass.EXIT_CODE, 1)
    assert output["record"]["status"] == "FAILED"
    assert output["notice"]["run_id"] == RUN_ID and output["notice"]["to"] == "someone@example.org"
    failed = [m for m in metrics_emitted(capsys.readouterr().out) if m["metric"] == RUNS_FAILED]
    assert [m["failure_class"] for m in failed] == ["exit-code"]


def test_notify_sends_the_notice_once(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    app = handler("notify_run")
    notice = event("notify_run/notice")

    first = app.lambda_handler(notice, LambdaContext("NotifyRunFunction"))
    again = app.lambda_handler(notice, LambdaContext("NotifyRunFunction"))  # a retried step

    assert (first["sent"], again["sent"]) == (True, False)
    assert stack.topic_messages() == [notice["notice"]["body"]]
    marker = json.loads(stack.s3.get_object(Bucket=stack.bucket, Key=notice_key(RUN_ID, OWNER))["Body"].read())
    assert marker["state"] == "sent"
    deliveries = [m for m in metrics_emitted(capsys.readouterr().out) if m["metric"] == NOTICE_DELIVERIES]
    assert [(m["channel"], m["outcome"]) for m in deliveries] == [("topic", "sent"), ("topic", "already-sent")]


@pytest.mark.parametrize(("verified", "outcome"), [(True, "delivered"), (False, "refused")])
def test_notify_emails_the_notice_as_text_and_html_through_ses_and_counts_it(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], verified: bool, outcome: str
) -> None:
    sender = f"builds-{stack.bucket}@example.org"  # unique to the test: moto's SES identities outlive it
    if verified:
        client("ses").verify_email_identity(EmailAddress=sender)
    monkeypatch.setenv("NOTIFY_FROM", sender)
    notice = event("notify_run/notice")

    output = handler("notify_run").lambda_handler(notice, LambdaContext("NotifyRunFunction"))

    assert output["email"]["to"] == "someone@example.org" and output["email"]["delivered"] is verified
    emailed = _raw_emails_from(sender)
    if verified:
        (message,) = emailed
        assert message["Subject"] == notice["notice"]["subject"] and message["To"] == "someone@example.org"
        assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]
    else:
        assert emailed == []
        assert output["email"]["error_code"] == "MessageRejected"
    deliveries = [m for m in metrics_emitted(capsys.readouterr().out) if m["metric"] == NOTICE_DELIVERIES]
    assert [(m["channel"], m["outcome"]) for m in deliveries] == [("topic", "sent"), ("email", outcome)]


def _raw_emails_from(sender: str) -> list[EmailMessage]:
    """The emails SES accepted from `sender`, parsed as a mail client would."""
    from moto.ses.models import ses_backends

    found = []
    for sent in ses_backends[ACCOUNT][REGION].sent_messages:
        raw = getattr(sent, "raw_data", None)
        if raw is not None and sent.source == sender:
            parsed = BytesParser(policy=policy.default).parsebytes(raw.encode() if isinstance(raw, str) else raw)
            assert isinstance(parsed, EmailMessage)
            found.append(parsed)
    return found


def test_reconcile_ends_an_aborted_run_cancelled_and_notifies(stack: Stack, job_queue: str) -> None:
    aborted = event("reconcile_run/execution_aborted")
    run_id = aborted["detail"]["name"]

    output = handler("reconcile_run").lambda_handler(aborted, LambdaContext("ReconcileRunFunction"))

    assert output == {"run_id": run_id, "action": "finalized CANCELLED, notified"}
    record = read_record(stack.s3, stack.bucket, run_id, None)  # uploaded directly under inbox/: nobody's
    assert (record.status, record.failure_class) == (RunStatus.CANCELLED, FailureClass.CANCELLED)
    assert stack.s3.head_object(Bucket=stack.bucket, Key=record_key(run_id, None))
    assert len(stack.topic_messages()) == 1


def test_a_function_without_its_bucket_fails_in_one_sentence(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BUCKET_NAME")

    with pytest.raises(ValueError, match=r"^BUCKET_NAME is not set: .*builds bucket\.$"):
        handler("notify_run").lambda_handler(event("notify_run/notice"), LambdaContext("NotifyRunFunction"))
    assert stack.topic_messages() == []
