"""FinalizeRun: classify the outcome, make run.json final, compose the notice.

State input: the whole state (run_id, execution_arn, upload, results.*, errors.*).
With safe_mode (the FinalizeRunSafely fallback) it trusts nothing but run_id and errors and
records an internal failure unless the record is final already.
Output: record (the final run record), notice (subject, body, to).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from nsclient_common.aws import client
from nsclient_common.cost import rates_for
from nsclient_common.describedjob import JobFacts, job_history, latest_job_facts
from nsclient_common.finish import finalize, load_or_placeholder, save
from nsclient_common.logarchive import LogSummary
from nsclient_common.notice import Notice, compose_notice
from nsclient_common.observability import count_run_finished, for_function
from nsclient_common.record import RunRecord
from nsclient_common.reportstore import write_report
from nsclient_common.settings import Settings, current_settings
from nsclient_common.states import COLLECT_LOGS, FINALIZE_RUN, PREPARE_RUN, RETRY_ON_DEMAND_JOB

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from types_boto3_s3 import S3Client

observability = for_function("FinalizeRun")
logger, tracer = observability.logger, observability.tracer


class FinalizeInput(BaseModel):
    run_id: str
    execution_arn: str | None = None
    upload: dict[str, Any] | None = None
    results: dict[str, Any] = {}
    errors: dict[str, Any] = {}
    safe_mode: bool = False


class FinalizeOutput(BaseModel):
    record: RunRecord
    notice: Notice


def _our_error(errors: dict[str, Any]) -> str | None:
    """An error from one of our own steps (not the build's), as 'State: Error: Cause'."""
    for state in (PREPARE_RUN, COLLECT_LOGS, FINALIZE_RUN):
        if state in errors:
            error = errors[state]
            cause = str(error.get("Cause") or "")
            try:  # a Lambda error's Cause is {"errorType", "errorMessage", "stackTrace"} as JSON
                parsed = json.loads(cause)
                cause = f"{parsed['errorType']}: {parsed['errorMessage']}"
            except (ValueError, TypeError, KeyError):
                cause = f"{error.get('Error')}: {cause}"
            return f"{state} failed: {cause[:300]}"
    return None


def with_report(s3: S3Client, bucket: str, record: RunRecord) -> RunRecord:
    """The record with its report written; a report that cannot be made leaves the run's outcome as it is."""
    try:
        return write_report(s3, bucket, record)
    except Exception:
        logger.exception("run report not written")
        return record


def finalize_run(event: FinalizeInput, settings: Settings, *, s3: S3Client) -> FinalizeOutput:
    record = load_or_placeholder(s3, settings.bucket, event.run_id, event.execution_arn, event.upload)
    log: LogSummary | None = None
    note: str | None = None
    internal: str | None
    if event.safe_mode:
        facts = JobFacts()
        internal = _our_error(event.errors) or "the wrap-up failed"
    else:
        collected = event.results.get(COLLECT_LOGS)
        if collected:
            log = LogSummary.model_validate(collected["log"])
            facts = JobFacts.model_validate(collected["job"])
        else:
            facts = latest_job_facts(event.results, event.errors)
        if COLLECT_LOGS in event.errors:
            # The outcome still stands on the job's facts; only the archived log is missing.
            note = f"(nsclient could not archive the job's log: {_our_error(event.errors)})"
        elif RETRY_ON_DEMAND_JOB in event.results or RETRY_ON_DEMAND_JOB in event.errors:
            note = "(AWS reclaimed the Spot instance of its first job; it ran again on the on-demand queue.)"
        internal = _our_error(event.errors) if PREPARE_RUN in event.errors else None
    final = finalize(
        record,
        facts,
        log,
        bucket=settings.bucket,
        internal_error=internal,
        note=note,
        rates=rates_for(settings.cost_rates, settings.instance_types),
        jobs=max(1, len(job_history(event.results, event.errors))),
    )
    if final is not record:
        final = with_report(s3, settings.bucket, final)
        save(s3, settings.bucket, final)
        count_run_finished(final)
    notice = compose_notice(final, log.tail if log else [], local_toolchain=settings.local_toolchain)
    return FinalizeOutput(record=final, notice=notice)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    parsed = FinalizeInput.model_validate(event)
    logger.append_keys(run_id=parsed.run_id)
    result = finalize_run(parsed, current_settings(), s3=client("s3"))
    logger.info("finalized run", extra={"status": result.record.status, "failure_class": result.record.failure_class})
    return result.model_dump(mode="json")
