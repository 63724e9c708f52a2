"""Finding a run's Batch job, and what its state says of the run.

The job is named by the run id. A run has one job, or two when a Spot reclaim was retried on the
on-demand queue, so the run's job is the newest of that name on every queue the run may be on:
the backstop (ReconcileRun) and the client (status, logs --follow) look the same way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nsclient_common.record import RunStatus

if TYPE_CHECKING:
    from collections.abc import Iterable

    from nsclient_common.record import RunRecord

# Batch's job states, in order; a job in one of these has not ended yet.
ACTIVE_JOB_STATUSES = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING")
NOT_STARTED_JOB_STATUSES = ("SUBMITTED", "PENDING", "RUNNABLE")

# The run's status while its job is in a Batch state. A job that ended leaves the run RUNNING: the
# run still collects its log and records its outcome, and only the record says how it ended.
_RUN_STATUS_OF_JOB = {
    "SUBMITTED": RunStatus.SUBMITTED,
    "PENDING": RunStatus.SUBMITTED,
    "RUNNABLE": RunStatus.RUNNABLE,
    "STARTING": RunStatus.RUNNABLE,
    "RUNNING": RunStatus.RUNNING,
    "SUCCEEDED": RunStatus.RUNNING,
    "FAILED": RunStatus.RUNNING,
}


def run_status_of_job(job_status: str) -> RunStatus | None:
    """What a (not yet final) run's status is while its job is in `job_status`."""
    return _RUN_STATUS_OF_JOB.get(job_status)


def run_queues(record: RunRecord | None, *configured: str | None) -> list[str]:
    """Every queue the run's job may be on, without repeats: the record's, then the configured ones."""
    named = [record.job_queue, record.on_demand_job_queue] if record is not None else []
    return [queue for queue in dict.fromkeys([*named, *configured]) if queue]


def find_job(batch: Any, queues: Iterable[str], run_id: str) -> dict[str, Any] | None:
    """The description of the run's newest Batch job on any of the queues, while Batch remembers it."""
    summaries: list[dict[str, Any]] = []
    for queue in dict.fromkeys(q for q in queues if q):
        found = batch.list_jobs(jobQueue=queue, filters=[{"name": "JOB_NAME", "values": [run_id]}])
        summaries += found["jobSummaryList"]
    if not summaries:
        return None
    newest = max(summaries, key=lambda summary: summary.get("createdAt", 0))
    jobs = batch.describe_jobs(jobs=[newest["jobId"]])["jobs"]
    return dict(jobs[0]) if jobs else None
