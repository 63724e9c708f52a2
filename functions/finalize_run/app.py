"""FinalizeRun: classify the outcome, make run.json final, compose the notice.

State input (execution.FinalizeInput): the whole state (run_id, execution_arn, upload, owner, results.*, errors.*).
With safe_mode (the FinalizeRunSafely fallback) it trusts nothing but run_id and errors and
records an internal failure unless the record is final already.
Output: record (the final run record), notice (subject, body, to).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from nsclient_common.aws import client
from nsclient_common.describedjob import latest_of
from nsclient_common.execution import Errors, FinalizeInput, FinalizeResult, TaskError
from nsclient_common.finish import load_or_placeholder
from nsclient_common.observability import for_function
from nsclient_common.settings import Settings, current_settings
from nsclient_common.states import OWN_STEPS
from nsclient_common.wrapup import Ending, finish_run

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from types_boto3_s3 import S3Client

observability = for_function("FinalizeRun")
logger, tracer = observability.logger, observability.tracer


def _our_error(errors: Errors) -> str | None:
    """An error from one of our own steps (not the build's), as 'State: Error: Cause'."""
    for state in OWN_STEPS:
        error: TaskError | None = errors.of(state)
        if error is not None:
            cause = str(error.Cause or "")
            try:  # a Lambda error's Cause is {"errorType", "errorMessage", "stackTrace"} as JSON
                parsed = json.loads(cause)
                cause = f"{parsed['errorType']}: {parsed['errorMessage']}"
            except (ValueError, TypeError, KeyError):
                cause = f"{error.Error}: {cause}"
            return f"{state} failed: {cause[:300]}"
    return None


def ending_of(event: FinalizeInput) -> Ending:
    """How the run ended, from the state: CollectLogs' summary and job facts, else the job states'."""
    if event.safe_mode:  # the job's facts are not trusted; the jobs that ran still count in the cost
        jobs = max(1, len(event.job_history()))
        return Ending(jobs=jobs, internal_error=_our_error(event.errors) or "the wrap-up failed")
    note: str | None = None
    if event.errors.collect_logs:
        # The outcome still stands on the job's facts; only the archived log is missing.
        note = f"(nsclient could not archive the job's log: {_our_error(event.errors)})"
    elif event.results.retry_on_demand_job or event.errors.retry_on_demand_job:
        note = "(AWS reclaimed the Spot instance of its first job; it ran again on the on-demand queue.)"
    internal = _our_error(event.errors) if event.errors.prepare_run else None
    collected = event.results.collect_logs
    if collected:
        return Ending(collected.job, collected.log, collected.jobs, internal_error=internal, note=note)
    history = event.job_history()
    return Ending(latest_of(history), None, max(1, len(history)), internal_error=internal, note=note)


def finalize_run(event: FinalizeInput, settings: Settings, *, s3: S3Client) -> FinalizeResult:
    record = load_or_placeholder(s3, settings.bucket, event)
    return finish_run(record, ending_of(event), settings, s3=s3, logger=logger)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    parsed = FinalizeInput.model_validate(event)
    logger.append_keys(run_id=parsed.run_id)
    result = finalize_run(parsed, current_settings(), s3=client("s3"))
    logger.info("finalized run", extra={"status": result.record.status, "failure_class": result.record.failure_class})
    return result.model_dump(mode="json")
