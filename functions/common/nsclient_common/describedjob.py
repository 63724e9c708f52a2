"""The facts about a run's Batch job, from whatever the state machine holds.

After batch:submitJob.sync the state holds either the job description (success) or an error
whose Cause is the job description as JSON (job failed) or a message (submission failed).
Both AWS (PascalCase) and SDK (camelCase) spellings are accepted.

A run has one job, or two when a Spot reclaim was retried on the on-demand queue: SubmitBuildJob,
then RetryOnDemandJob. The facts that decide the run's outcome are the last job's.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from nsclient_common.layout import DEFAULT_LOG_GROUP
from nsclient_common.states import JOB_STATES


class JobFacts(BaseModel):
    job_id: str | None = None
    job_queue: str | None = None  # the queue's name
    status: str | None = None
    status_reason: str = ""
    container_reason: str = ""
    exit_code: int | None = None
    log_stream: str | None = None
    log_group: str = DEFAULT_LOG_GROUP
    created_at: int | None = None
    started_at: int | None = None
    stopped_at: int | None = None
    attempts: int = 0
    vcpus: int | None = None  # what the job ran with: its request, else its job definition's
    memory_mib: int | None = None
    error: str | None = None  # Step Functions error name when the job could not be run at all
    error_cause: str | None = None


def _get(mapping: Any, *names: str) -> Any:
    if not isinstance(mapping, dict):
        return None
    for name in names:
        if mapping.get(name) is not None:
            return mapping[name]
    return None


def _queue_name(queue: str | None) -> str | None:
    """A job queue's name from its ARN (arn:aws:batch:region:account:job-queue/NAME) or name."""
    return queue.rsplit("/", 1)[-1] if queue else None


def log_group_of(job: dict[str, Any]) -> str:
    """The CloudWatch log group a job writes to: its definition's awslogs group (a created Batch setup
    names the stack's own), else the group Batch uses by default."""
    container = _get(job, "Container", "container") or {}
    config = _get(container, "LogConfiguration", "logConfiguration") or {}
    if str(_get(config, "LogDriver", "logDriver") or "").lower() != "awslogs":
        return DEFAULT_LOG_GROUP
    options = _get(config, "Options", "options") or {}
    group = next((value for key, value in options.items() if key.lower() == "awslogs-group"), None)
    return str(group) if group else DEFAULT_LOG_GROUP


def _resources(container: dict[str, Any]) -> tuple[int | None, int | None]:
    """(vcpus, memory MiB) of a described job's container: resourceRequirements, else the older fields."""
    found: dict[str, int] = {}
    for requirement in _get(container, "ResourceRequirements", "resourceRequirements") or []:
        kind, value = _get(requirement, "Type", "type"), _get(requirement, "Value", "value")
        try:
            found[str(kind)] = int(float(str(value)))
        except ValueError:
            continue
    vcpus = found.get("VCPU") or _get(container, "Vcpus", "vcpus")
    memory = found.get("MEMORY") or _get(container, "Memory", "memory")
    return (int(vcpus) if vcpus else None), (int(memory) if memory else None)


def facts_from_description(job: dict[str, Any]) -> JobFacts:
    container = _get(job, "Container", "container") or {}
    attempts = _get(job, "Attempts", "attempts") or []
    last_attempt_container = _get(attempts[-1], "Container", "container") if attempts else None
    vcpus, memory_mib = _resources(container)
    return JobFacts(
        job_id=_get(job, "JobId", "jobId"),
        job_queue=_queue_name(_get(job, "JobQueue", "jobQueue")),
        status=_get(job, "Status", "status"),
        status_reason=_get(job, "StatusReason", "statusReason") or "",
        container_reason=_get(container, "Reason", "reason") or "",
        exit_code=_get(container, "ExitCode", "exitCode"),
        log_stream=_get(container, "LogStreamName", "logStreamName")
        or _get(last_attempt_container, "LogStreamName", "logStreamName"),
        log_group=log_group_of(job),
        created_at=_get(job, "CreatedAt", "createdAt"),
        started_at=_get(job, "StartedAt", "startedAt") or None,
        stopped_at=_get(job, "StoppedAt", "stoppedAt") or None,
        attempts=len(attempts),
        vcpus=vcpus,
        memory_mib=memory_mib,
    )


def facts_from_state(result: dict[str, Any] | None, error: dict[str, Any] | None) -> JobFacts:
    """From one job state's $.results.<state> or $.errors.<state> ({Error, Cause})."""
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


def job_history(results: dict[str, Any], errors: dict[str, Any]) -> list[JobFacts]:
    """The facts of every job the execution ran (or tried to), oldest first."""
    return [
        facts_from_state(results.get(state), errors.get(state))
        for state in JOB_STATES
        if results.get(state) or errors.get(state)
    ]


def latest_job_facts(results: dict[str, Any], errors: dict[str, Any]) -> JobFacts:
    """The last job's facts, with the attempts of all of them."""
    history = job_history(results, errors)
    if not history:
        return JobFacts()
    return history[-1].model_copy(update={"attempts": sum(facts.attempts for facts in history)})
