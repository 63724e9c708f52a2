"""ReconcileRun: the backstop for executions that ended without finishing their run.

Called by the EventBridge rule on the state machine's own "Execution Status Change" events
with status FAILED, TIMED_OUT or ABORTED (a console StopExecution or `nsclient cancel`).
Whatever the execution managed, this makes sure that the Batch job is not left running, the log
is archived, run.json is final and exactly one notice went out. A run already wrapped up is left
alone. Output: run_id, action.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from nsclient_common.aws import client
from nsclient_common.delivery import deliver_notice
from nsclient_common.failure import CANCEL_REASON
from nsclient_common.finish import finalize, load_or_placeholder, save
from nsclient_common.jobfacts import JobFacts, facts_from_description
from nsclient_common.layout import log_key, notice_key
from nsclient_common.logarchive import LogSummary, archive_log
from nsclient_common.notice import compose_notice
from nsclient_common.settings import Settings
from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()

ACTIVE_JOB_STATUSES = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING")


class ExecutionDetail(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    execution_arn: str = Field(alias="executionArn")
    name: str
    status: str
    input: str | None = None
    error: str | None = None
    cause: str | None = None


class ExecutionEvent(BaseModel):
    detail: ExecutionDetail


class ReconcileOutput(BaseModel):
    run_id: str
    action: str


def find_job(batch: Any, queue: str, run_id: str) -> dict[str, Any] | None:
    """The run's newest Batch job: its name is the run id."""
    summaries = batch.list_jobs(jobQueue=queue, filters=[{"name": "JOB_NAME", "values": [run_id]}])["jobSummaryList"]
    if not summaries:
        return None
    newest = max(summaries, key=lambda s: s.get("createdAt", 0))
    jobs = batch.describe_jobs(jobs=[newest["jobId"]])["jobs"]
    return jobs[0] if jobs else None


def _notice_sent(s3: Any, bucket: str, run_id: str) -> bool:
    try:
        marker = json.loads(s3.get_object(Bucket=bucket, Key=notice_key(run_id))["Body"].read())
    except s3.exceptions.NoSuchKey:
        return False
    return bool(marker.get("state") == "sent")


def reconcile(
    detail: ExecutionDetail, settings: Settings, *, s3: Any, batch: Any, logs: Any, sns: Any, ses: Any
) -> ReconcileOutput:
    run_id = detail.name
    upload = json.loads(detail.input).get("upload") if detail.input else None
    record = load_or_placeholder(s3, settings.bucket, run_id, detail.execution_arn, upload)
    if record.status.is_final and _notice_sent(s3, settings.bucket, run_id):
        return ReconcileOutput(run_id=run_id, action="nothing to do")

    cancelled = detail.status == "ABORTED"
    job = find_job(batch, record.job_queue or settings.job_queue, run_id) if not record.status.is_final else None
    if job is not None and job["status"] in ACTIVE_JOB_STATUSES:
        reason = CANCEL_REASON if cancelled else f"nsclient: execution {detail.status}"
        batch.terminate_job(jobId=job["jobId"], reason=reason)
        job = {**job, "statusReason": reason}
    facts = facts_from_description(job) if job else JobFacts()

    log: LogSummary | None = None
    if not record.status.is_final:
        log = archive_log(
            logs, s3, group=settings.log_group, stream=facts.log_stream, bucket=settings.bucket, key=log_key(run_id)
        )
    internal = (
        None if cancelled else f"the execution ended {detail.status}: {detail.error or ''} {detail.cause or ''}".strip()
    )
    final = finalize(
        record,
        facts,
        log,
        bucket=settings.bucket,
        cancelled=cancelled,
        timed_out=detail.status == "TIMED_OUT",
        internal_error=internal,
    )
    if final is not record:
        save(s3, settings.bucket, final)
    sent = deliver_notice(compose_notice(final, log.tail if log else []), settings, s3=s3, sns=sns, ses=ses)
    return ReconcileOutput(run_id=run_id, action=f"finalized {final.status.value}" + (", notified" if sent else ""))


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    detail = ExecutionEvent.model_validate(event).detail
    logger.append_keys(run_id=detail.name)
    settings = Settings.from_env()
    result = reconcile(
        detail,
        settings,
        s3=client("s3"),
        batch=client("batch"),
        logs=client("logs"),
        sns=client("sns"),
        ses=client("ses") if settings.notify_from else None,
    )
    logger.info("reconciled", extra=result.model_dump())
    return result.model_dump(mode="json")
