"""ReconcileRun: the backstop for executions that ended without finishing their run.

Called by the EventBridge rule on the state machine's own "Execution Status Change" events
with status FAILED, TIMED_OUT or ABORTED (a console StopExecution or `nsclient cancel`).
Whatever the execution managed, this makes sure that the Batch job is not left running, the log
is archived, run.json is final and exactly one notice went out, by the wrap-up the state machine's
steps use (nsclient_common.wrapup); what is its own is finding and stopping the job of an execution that
died. A run already wrapped up is left alone. Output: run_id, action.

It is also the guard against a job stuck RUNNABLE on a queue without a jobStateTimeLimitActions
entry for its reason (an existing queue the stack cannot change): the execution times out
(ExecutionTimeoutSeconds), and a job that never started is terminated here and recorded
stuck-runnable (or resources-too-large, when that is what Batch said kept it waiting).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from nsclient_common.aws import client
from nsclient_common.describedjob import JobFacts, facts_from_description
from nsclient_common.execution import ExecutionInput, FinalizeResult
from nsclient_common.failure import CANCEL_REASON, STUCK_RUNNABLE_REASON
from nsclient_common.finish import load_or_placeholder
from nsclient_common.joblookup import ACTIVE_JOB_STATUSES, NOT_STARTED_JOB_STATUSES, find_job, run_queues
from nsclient_common.layout import log_key
from nsclient_common.logarchive import read_log_tail
from nsclient_common.observability import for_function
from nsclient_common.runstore import notice_sent
from nsclient_common.settings import Settings, current_settings
from nsclient_common.wrapup import Ending, archive_run_log, finish_run, notice_of, send_notice

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from types_boto3_batch import BatchClient
    from types_boto3_logs import CloudWatchLogsClient
    from types_boto3_s3 import S3Client
    from types_boto3_ses import SESClient
    from types_boto3_sns import SNSClient

observability = for_function("ReconcileRun")
logger, tracer = observability.logger, observability.tracer

# A terminated container gets ECS's stop timeout (30 s by default) before SIGKILL; wait a little
# longer so that the log is complete and the exit code known.
JOB_STOP_WAIT_SECONDS = 90.0
# Kept back from every wait for what follows it (saving run.json, publishing, marking the notice sent).
# The worst case, a job to stop (JOB_STOP_WAIT_SECONDS), a whole log to archive and another sender's
# notice claim to wait for (delivery.CLAIM_TTL_SECONDS), fits the function's 900 s timeout; past the
# deadline a wait gives up and the invocation fails, to be retried (then dead-lettered) by Lambda.
FINISH_RESERVE_SECONDS = 30.0


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


def termination_reason(status: str, job: dict[str, Any]) -> str:
    """Why nsclient ends a job whose execution ended: the reason classifies the run."""
    if status == "ABORTED":
        return CANCEL_REASON
    if status == "TIMED_OUT" and job["status"] in NOT_STARTED_JOB_STATUSES:
        waiting = job.get("statusReason")
        return f"{STUCK_RUNNABLE_REASON}: {waiting}"[:250] if waiting else STUCK_RUNNABLE_REASON
    return f"nsclient: execution {status}"


def stop_job(batch: BatchClient, job: dict[str, Any], reason: str, wait_seconds: float) -> dict[str, Any]:
    """Terminate the job and wait (bounded) until Batch reports it stopped; its last description."""
    batch.terminate_job(jobId=job["jobId"], reason=reason)
    deadline, delay = time.monotonic() + wait_seconds, 0.2
    while time.monotonic() < deadline:
        described = batch.describe_jobs(jobs=[job["jobId"]])["jobs"]
        if described and described[0]["status"] not in ACTIVE_JOB_STATUSES:
            return dict(described[0])
        time.sleep(delay)
        delay = min(delay * 2, 5.0)
    return {**job, "statusReason": reason}


def reconcile(
    detail: ExecutionDetail,
    settings: Settings,
    *,
    s3: S3Client,
    batch: BatchClient,
    logs: CloudWatchLogsClient,
    sns: SNSClient,
    ses: SESClient | None,
    deadline: float | None = None,
) -> ReconcileOutput:
    """Wrap the run up; `deadline` (time.monotonic()) bounds every wait, None for no bound."""
    stop_wait = JOB_STOP_WAIT_SECONDS
    if deadline is not None:
        stop_wait = max(0.0, min(stop_wait, deadline - time.monotonic()))
    run_id = detail.name
    execution = ExecutionInput.from_json(detail.input) or ExecutionInput(
        run_id=run_id, execution_arn=detail.execution_arn
    )
    record = load_or_placeholder(s3, settings.bucket, execution)
    if record.status.is_final and notice_sent(s3, settings.bucket, run_id, record.owner):
        return ReconcileOutput(run_id=run_id, action="nothing to do")

    if record.status.is_final:  # finished, but its notice not sent: the notice is the record's
        finished = FinalizeResult(
            record=record,
            notice=notice_of(record, read_log_tail(s3, settings.bucket, log_key(run_id, record.owner)), settings),
        )
    else:
        job = find_job(batch, run_queues(record, settings.job_queue, settings.on_demand_job_queue), run_id)
        if job is not None and job["status"] in ACTIVE_JOB_STATUSES:
            job = stop_job(batch, job, termination_reason(detail.status, job), stop_wait)
        history = [facts_from_description(job)] if job else []
        log = archive_run_log(history, settings, run_id=run_id, owner=record.owner, logs=logs, s3=s3)
        cancelled = detail.status == "ABORTED"
        ended = f"the execution ended {detail.status}: {detail.error or ''} {detail.cause or ''}"
        ending = Ending(
            history[-1] if history else JobFacts(),
            log,
            cancelled=cancelled,
            timed_out=detail.status == "TIMED_OUT",
            internal_error=None if cancelled else ended.strip()[:500],
        )
        finished = finish_run(record, ending, settings, s3=s3, logger=logger)
    delivery = send_notice(finished.notice, settings, s3=s3, sns=sns, ses=ses, logger=logger, deadline=deadline)
    record = finished.record
    notified = ", notified" if delivery.sent else ""
    return ReconcileOutput(run_id=run_id, action=f"finalized {record.status.value}{notified}")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    detail = ExecutionEvent.model_validate(event).detail
    logger.append_keys(run_id=detail.name)
    settings = current_settings()
    deadline = time.monotonic() + context.get_remaining_time_in_millis() / 1000 - FINISH_RESERVE_SECONDS
    result = reconcile(
        detail,
        settings,
        s3=client("s3"),
        batch=client("batch"),
        logs=client("logs"),
        sns=client("sns"),
        ses=client("ses") if settings.notify_from else None,
        deadline=deadline,
    )
    logger.info("reconciled", extra=result.model_dump())
    return result.model_dump(mode="json")
