"""CollectLogs: archive the job's log to runs/<id>/logs/build.log, failed or not, and say whether
the job should run again on the on-demand queue.

State input: run_id, results.SubmitBuildJob (the job, when it succeeded) or errors.SubmitBuildJob
({Error, Cause}: Cause is the job as JSON when it failed); after a retry, results/errors.RetryOnDemandJob too.
Output: log (key, lines, bytes, tail, failed_rule, memory_error), job (the last job's facts) and
on_demand_job_queue: the queue to run the job again on (the IsSpotReclaimed choice), or null.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from nsclient_common.aws import client
from nsclient_common.describedjob import JobFacts, job_history, latest_job_facts
from nsclient_common.failure import is_spot_reclaimed
from nsclient_common.layout import log_key, owner_of_inbox_key
from nsclient_common.logarchive import LogSource, LogSummary, archive_log
from nsclient_common.observability import for_function
from nsclient_common.settings import Settings, current_settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from types_boto3_logs import CloudWatchLogsClient
    from types_boto3_s3 import S3Client

observability = for_function("CollectLogs")
logger, tracer = observability.logger, observability.tracer


class CollectInput(BaseModel):
    run_id: str
    upload: dict[str, Any] = {}
    results: dict[str, Any] = {}
    errors: dict[str, Any] = {}

    @property
    def owner(self) -> str | None:
        return owner_of_inbox_key(str(self.upload.get("key", "")))


class CollectOutput(BaseModel):
    log: LogSummary
    job: JobFacts
    on_demand_job_queue: str | None = None


def on_demand_retry_queue(history: list[JobFacts], settings: Settings) -> str | None:
    """The on-demand queue, when the only job so far lost its Spot host and one is configured.

    Nothing else is retried: a build that failed, ran out of memory or timed out would do so again.
    """
    if len(history) != 1 or not settings.on_demand_job_queue:
        return None
    job = history[0]
    if not is_spot_reclaimed(job.status_reason) or job.job_queue == settings.on_demand_job_queue:
        return None
    return settings.on_demand_job_queue


def _heading(number: int, job: JobFacts) -> str:
    where = f" on queue {job.job_queue}" if job.job_queue else ""
    how = f": {job.status_reason}" if job.status_reason else ""
    return f"===== nsclient: attempt {number}{where}{how} ====="


def collect(event: CollectInput, settings: Settings, *, logs: CloudWatchLogsClient, s3: S3Client) -> CollectOutput:
    history = job_history(event.results, event.errors)
    facts = latest_job_facts(event.results, event.errors)
    preface = ""
    if facts.error:
        preface = f"(the job could not be run: {facts.error}: {facts.error_cause})\n"
    sources = [LogSource(job.log_stream, group=job.log_group) for job in history]
    if len(history) > 1:
        sources = [LogSource(job.log_stream, _heading(n, job), job.log_group) for n, job in enumerate(history, 1)]
    summary = archive_log(
        logs,
        s3,
        sources=sources or [LogSource(None)],
        bucket=settings.bucket,
        key=log_key(event.run_id, event.owner),
        preface=preface,
    )
    return CollectOutput(log=summary, job=facts, on_demand_job_queue=on_demand_retry_queue(history, settings))


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    parsed = CollectInput.model_validate(event)
    logger.append_keys(run_id=parsed.run_id)
    result = collect(parsed, current_settings(), logs=client("logs"), s3=client("s3"))
    logger.info(
        "archived log",
        extra={"lines": result.log.lines, "bytes": result.log.bytes, "retry_on": result.on_demand_job_queue},
    )
    return result.model_dump(mode="json")
