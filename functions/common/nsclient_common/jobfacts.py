"""The facts about a run's Batch job, from whatever the state machine holds.

After batch:submitJob.sync the state holds either the job description (success) or an error
whose Cause is the job description as JSON (job failed) or a message (submission failed).
Both AWS (PascalCase) and SDK (camelCase) spellings are accepted.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel


class JobFacts(BaseModel):
    job_id: str | None = None
    status: str | None = None
    status_reason: str = ""
    exit_code: int | None = None
    log_stream: str | None = None
    created_at: int | None = None
    started_at: int | None = None
    stopped_at: int | None = None
    attempts: int = 0
    error: str | None = None  # Step Functions error name when the job could not be run at all
    error_cause: str | None = None


def _get(mapping: Any, *names: str) -> Any:
    if not isinstance(mapping, dict):
        return None
    for name in names:
        if mapping.get(name) is not None:
            return mapping[name]
    return None


def facts_from_description(job: dict[str, Any]) -> JobFacts:
    container = _get(job, "Container", "container") or {}
    attempts = _get(job, "Attempts", "attempts") or []
    last_attempt_container = _get(attempts[-1], "Container", "container") if attempts else None
    return JobFacts(
        job_id=_get(job, "JobId", "jobId"),
        status=_get(job, "Status", "status"),
        status_reason=_get(job, "StatusReason", "statusReason") or _get(container, "Reason", "reason") or "",
        exit_code=_get(container, "ExitCode", "exitCode"),
        log_stream=_get(container, "LogStreamName", "logStreamName")
        or _get(last_attempt_container, "LogStreamName", "logStreamName"),
        created_at=_get(job, "CreatedAt", "createdAt"),
        started_at=_get(job, "StartedAt", "startedAt") or None,
        stopped_at=_get(job, "StoppedAt", "stoppedAt") or None,
        attempts=len(attempts),
    )


def facts_from_state(result: dict[str, Any] | None, error: dict[str, Any] | None) -> JobFacts:
    """From $.results.SubmitBuildJob or $.errors.SubmitBuildJob ({Error, Cause})."""
    if result:
        return facts_from_description(result)
    if not error:
        return JobFacts()
    cause = error.get("Cause") or ""
    try:
        described = json.loads(cause)
    except (TypeError, ValueError):
        described = None
    if isinstance(described, dict) and _get(described, "JobId", "jobId"):
        return facts_from_description(described)
    return JobFacts(error=error.get("Error") or "States.Runtime", error_cause=str(cause)[:2000])
