"""CollectLogs: archive the job's log to runs/<id>/logs/build.log, failed or not.

State input: run_id, results.SubmitBuildJob (the job, when it succeeded) or
errors.SubmitBuildJob ({Error, Cause}: Cause is the job as JSON when it failed).
Output: the log summary (key, lines, bytes, tail, failed_rule, memory_error) and the job facts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from nsclient_common.aws import client
from nsclient_common.jobfacts import JobFacts, facts_from_state
from nsclient_common.layout import log_key
from nsclient_common.logarchive import LogSummary, archive_log
from nsclient_common.settings import Settings
from pydantic import BaseModel

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()


class CollectInput(BaseModel):
    run_id: str
    results: dict[str, Any] = {}
    errors: dict[str, Any] = {}


class CollectOutput(BaseModel):
    log: LogSummary
    job: JobFacts


def collect(event: CollectInput, settings: Settings, *, logs: Any, s3: Any) -> CollectOutput:
    facts = facts_from_state(event.results.get("SubmitBuildJob"), event.errors.get("SubmitBuildJob"))
    preface = ""
    if facts.error:
        preface = f"(the job could not be run: {facts.error}: {facts.error_cause})\n"
    summary = archive_log(
        logs,
        s3,
        group=settings.log_group,
        stream=facts.log_stream,
        bucket=settings.bucket,
        key=log_key(event.run_id),
        preface=preface,
    )
    return CollectOutput(log=summary, job=facts)


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    parsed = CollectInput.model_validate(event)
    logger.append_keys(run_id=parsed.run_id)
    result = collect(parsed, Settings.from_env(), logs=client("logs"), s3=client("s3"))
    logger.info("archived log", extra={"lines": result.log.lines, "bytes": result.log.bytes})
    return result.model_dump(mode="json")
