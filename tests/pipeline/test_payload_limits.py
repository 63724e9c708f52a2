"""AWS's payload limits, enforced by the local backend as AWS enforces them, and kept by the pipeline:
a build whose log lines are huge still ends with its notice (the tail passed between states is cut to
size), a state's data over 256 KiB fails the execution whatever its catchers say, and each service
refuses what AWS would refuse."""

from __future__ import annotations

import json
import uuid
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError

from nsclient.local.stack import STACK_NAME
from nsclient_common.layout import log_key
from nsclient_common.logarchive import TAIL_LINES
from nsclient_common.payloads import (
    BATCH_SUBMIT_JOB_BYTES,
    EVENT_ENTRY_BYTES,
    S3_USER_METADATA_BYTES,
    SNS_MESSAGE_BYTES,
    STATE_DATA_BYTES,
    TAIL_LINE_BYTES,
)
from nsclient_common.record import RunStatus
from tests.support import SNAKEFILE_OK, zip_bytes

if TYPE_CHECKING:
    from nsclient.local.runtime import LocalRuntime
    from tests.support import Backend

LONG_LINE_CHARS = 14_000
# 40 lines of 14,000 characters, each numbered: snakemake's own last lines follow them, and the 20 or so
# of them in the tail make more than 256 KiB if passed between states uncut.
SNAKEFILE_LONG_LINES = f"""
rule all:
    input: "results/out.txt"

rule shout:
    output: "results/out.txt"
    shell: "python3 -c \\"[print(str(i).zfill(2) + 'y' * {LONG_LINE_CHARS}) for i in range({TAIL_LINES})]\\"; "
        "echo ok > {{output}}"
"""


def test_a_build_with_huge_log_lines_ends_with_its_notice_and_a_cut_tail(local_backend: Backend) -> None:
    run_id = local_backend.upload(zip_bytes({"Snakefile": SNAKEFILE_LONG_LINES}), name="long-lines")
    record = local_backend.wait_for_record(run_id, timeout=180)
    assert local_backend.wait_for_execution(run_id)["status"] == "SUCCEEDED"
    assert record.status == RunStatus.SUCCEEDED, record

    # The archived log keeps every line whole; the notice's tail has each cut, saying how much was cut.
    archived = local_backend.archived_log(run_id).splitlines()
    assert sum(len(line) == 2 + LONG_LINE_CHARS for line in archived) == TAIL_LINES
    message = message_from_bytes(
        (Path(local_backend.info.outbox) / f"{run_id}.eml").read_bytes(), policy=policy.default
    )
    assert isinstance(message, EmailMessage)
    plain = message.get_body(("plain",))
    assert plain is not None
    text = plain.get_content()
    assert "could not archive" not in text
    cut = [line.strip() for line in text.splitlines() if line.strip().endswith(" more bytes]")]
    assert [line[:2] for line in cut] == [f"{i:02d}" for i in range(TAIL_LINES - len(cut), TAIL_LINES)]
    assert len(cut) >= TAIL_LINES // 2
    assert all(len(line.encode()) <= TAIL_LINE_BYTES for line in cut)
    assert local_backend.run_key(run_id, log_key) in text


# --- Step Functions ------------------------------------------------------------------------


def test_a_state_output_over_the_limit_fails_the_execution_past_its_catcher(
    local_backend: Backend, local_runtime: LocalRuntime
) -> None:
    """CollectLogs answering more than a state may hold: on AWS its Catch (States.ALL) does not apply, the
    execution fails with States.DataLimitExceeded and the backstop, ReconcileRun, finalizes the run."""
    function = local_runtime.lambdas.functions[f"{STACK_NAME}-CollectLogsFunction"]
    handler = function.load()

    def oversized(event: dict[str, Any], context: Any) -> Any:
        result = handler(event, context)
        if str(event.get("run_id", "")).startswith("oversized-"):
            result = {**result, "padding": "p" * STATE_DATA_BYTES}
        return result

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(function, "load", lambda: oversized)
        run_id = local_backend.upload(zip_bytes({"Snakefile": SNAKEFILE_OK}), name="oversized")
        described = local_backend.wait_for_execution(run_id)
        record = local_backend.wait_for_record(run_id, timeout=120)
    assert described["status"] == "FAILED"
    assert described["error"] == "States.DataLimitExceeded"
    assert record.status.is_final


PASS_MACHINE = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}


def test_an_execution_input_over_the_limit_is_refused(local_backend: Backend) -> None:
    sfn = local_backend.client("stepfunctions")
    machine = local_backend.state_machine("payload-limits", PASS_MACHINE)
    with pytest.raises(ClientError) as refused:
        sfn.start_execution(stateMachineArn=machine, name="too-big", input=json.dumps({"x": "z" * STATE_DATA_BYTES}))
    assert refused.value.response["Error"]["Code"] == "InvalidExecutionInput"
    sfn.start_execution(stateMachineArn=machine, name="fits", input=json.dumps({"x": "z" * (STATE_DATA_BYTES - 10)}))


# --- the other services ----------------------------------------------------------------------


def test_an_event_entry_over_the_limit_is_refused(local_backend: Backend) -> None:
    events = local_backend.client("events")
    entry = {"Source": "payload.test", "DetailType": "t", "Detail": json.dumps({"x": "z" * EVENT_ENTRY_BYTES})}
    with pytest.raises(ClientError) as refused:
        events.put_events(Entries=[entry])
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    small = {**entry, "Detail": json.dumps({"x": "z"})}
    assert events.put_events(Entries=[small])["FailedEntryCount"] == 0


def test_an_sns_message_over_the_limit_in_bytes_is_refused(local_backend: Backend) -> None:
    sns = local_backend.client("sns")
    topic = sns.create_topic(Name=f"payload-limits-{uuid.uuid4().hex[:6]}")["TopicArn"]
    # Fewer characters than the limit, more bytes: AWS counts bytes.
    with pytest.raises(ClientError) as refused:
        sns.publish(TopicArn=topic, Message="é" * (SNS_MESSAGE_BYTES // 2 + 1))
    assert refused.value.response["Error"]["Code"] == "InvalidParameter"
    sns.publish(TopicArn=topic, Message="e" * SNS_MESSAGE_BYTES)


def test_s3_user_metadata_over_the_limit_is_refused_and_nothing_is_written(local_backend: Backend) -> None:
    s3, bucket = local_backend.client("s3"), local_backend.info.bucket
    key = f"payload-limits/{uuid.uuid4().hex}"
    with pytest.raises(ClientError) as refused:
        s3.put_object(Bucket=bucket, Key=key, Body=b"x", Metadata={"big": "m" * S3_USER_METADATA_BYTES})
    assert refused.value.response["Error"]["Code"] == "MetadataTooLarge"
    assert local_backend.keys(key) == []
    with pytest.raises(ClientError):
        s3.create_multipart_upload(Bucket=bucket, Key=key, Metadata={"big": "m" * S3_USER_METADATA_BYTES})
    s3.put_object(Bucket=bucket, Key=key, Body=b"x", Metadata={"big": "m" * (S3_USER_METADATA_BYTES - 3)})


def test_a_submit_job_request_over_the_limit_is_refused(local_backend: Backend) -> None:
    batch = local_backend.client("batch")
    overrides = {"environment": [{"name": "BIG", "value": "v" * BATCH_SUBMIT_JOB_BYTES}]}
    with pytest.raises(ClientError) as refused:
        batch.submit_job(
            jobName="too-big",
            jobQueue=local_backend.info.job_queue,
            jobDefinition=local_backend.info.job_definition,
            containerOverrides=overrides,
        )
    assert refused.value.response["Error"]["Code"] == "ClientException"
