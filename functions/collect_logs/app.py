"""CollectLogs: archive the job's log to runs/<id>/logs/build.log, failed or not, and say whether
the job should run again on the on-demand queue.

State input (execution.RunState): run_id, owner, results.SubmitBuildJob (the job, when it succeeded) or
errors.SubmitBuildJob ({Error, Cause}: Cause is the job as JSON when it failed); after a retry,
results/errors.RetryOnDemandJob too. Output (execution.CollectResult): log (key, lines, bytes, tail,
failed_rule, memory_error), job (the last job's facts), jobs (how many ran) and on_demand_job_queue: the
queue to run the job again on (the IsSpotReclaimed choice), or null.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nsclient_common.aws import client
from nsclient_common.describedjob import JobFacts, latest_of
from nsclient_common.execution import CollectResult, RunState
from nsclient_common.failure import is_spot_reclaimed
from nsclient_common.observability import for_function
from nsclient_common.settings import Settings, current_settings
from nsclient_common.wrapup import archive_run_log

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from types_boto3_logs import CloudWatchLogsClient
    from types_boto3_s3 import S3Client

observability = for_function("CollectLogs")
logger, tracer = observability.logger, observability.tracer


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


def collect(event: RunState, settings: Settings, *, logs: CloudWatchLogsClient, s3: S3Client) -> CollectResult:
    history = event.job_history()
    summary = archive_run_log(history, settings, run_id=event.run_id, owner=event.owner, logs=logs, s3=s3)
    return CollectResult(
        log=summary,
        job=latest_of(history),
        jobs=max(1, len(history)),
        on_demand_job_queue=on_demand_retry_queue(history, settings),
    )


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    parsed = RunState.model_validate(event)
    logger.append_keys(run_id=parsed.run_id)
    result = collect(parsed, current_settings(), logs=client("logs"), s3=client("s3"))
    logger.info(
        "archived log",
        extra={"lines": result.log.lines, "bytes": result.log.bytes, "retry_on": result.on_demand_job_queue},
    )
    return result.model_dump(mode="json")
