"""A run's state as the client shows it: the record, with the live Batch job while the run is not final.

The status shown only moves forward. The record says SUBMITTED until the run ends, so the job
tells how far it got; a job that ended leaves the run RUNNING until the record is final; and once
a view has shown a stage it never shows an earlier one (a Spot reclaim's rerun waits RUNNABLE, but
the run has been running).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from nsclient.errors import RunNotFoundError
from nsclient.pushes import pushed_directory
from nsclient.runs.records import check_run_id, is_denied, read_record
from nsclient_common.joblookup import find_job, run_queues, run_status_of_job
from nsclient_common.record import RunRecord, RunStatus, iso_from_millis, later_status, utc_now

if TYPE_CHECKING:
    from nsclient.backend import Backend


def execution_status(backend: Backend, run_id: str) -> str | None:
    """The execution's status, to an admin; a person may not describe executions (they are everyone's)."""
    if not backend.state_machine_arn:
        return None
    sfn = backend.client("stepfunctions")
    try:
        return str(sfn.describe_execution(executionArn=backend.execution_arn(run_id))["status"])
    except sfn.exceptions.ExecutionDoesNotExist:
        return None
    except ClientError as error:
        if is_denied(error):
            return None
        raise


def live_job(backend: Backend, record: RunRecord | None, run_id: str) -> dict[str, Any] | None:
    """The run's newest Batch job on every queue it may be on, while Batch remembers it."""
    try:
        return find_job(backend.client("batch"), run_queues(record, backend.job_queue), run_id)
    except ClientError:
        return None  # Batch unreachable or the queue gone: the record alone answers


def with_job(record: RunRecord, job: dict[str, Any] | None) -> RunRecord:
    """The record of a run in progress, brought up to date by its live job."""
    if job is None or record.status.is_final:
        return record
    status = run_status_of_job(str(job.get("status")))
    update: dict[str, Any] = {"job_id": job["jobId"]}
    if status is not None:
        update["status"] = later_status(record.status, status)
    if job.get("startedAt") and not record.started_at:
        update["started_at"] = iso_from_millis(job["startedAt"])
    if record.job_queue and not str(job.get("jobQueue", "")).endswith(f"/{record.job_queue}"):
        # A job on another queue is the rerun of one that ran (and lost its Spot host).
        update["status"] = later_status(update.get("status", record.status), RunStatus.RUNNING)
    return record.model_copy(update=update)


@dataclass
class RunState:
    """One run followed over time: update() reads its record and job again; is_final once it has ended."""

    backend: Backend
    run_id: str
    record: RunRecord | None = None
    job: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def is_final(self) -> bool:
        return self.record is not None and self.record.status.is_final

    def update(self) -> RunRecord:
        record = read_record(self.backend, self.run_id)
        if record is None:
            if self.record is not None:
                return self.record
            # This machine's push whose record the backend has not written yet, or (to an admin) an execution.
            if pushed_directory(self.run_id) is None and execution_status(self.backend, self.run_id) is None:
                raise RunNotFoundError(self.run_id)
            record = RunRecord(run_id=self.run_id, status=RunStatus.SUBMITTED, submitted_at=utc_now())
        elif not record.status.is_final:
            self.job = live_job(self.backend, record, self.run_id)
            record = with_job(record, self.job)
        if self.record is not None:
            record = record.model_copy(update={"status": later_status(self.record.status, record.status)})
            if not record.started_at and self.record.started_at:
                record = record.model_copy(update={"started_at": self.record.started_at})
        self.record = record
        return record


def status(backend: Backend, run_id: str) -> RunRecord:
    """The run's record, with the live job state while it runs."""
    check_run_id(run_id)
    return RunState(backend, run_id).update()


def await_run(backend: Backend, run_id: str, timeout: float = 60.0) -> RunState:
    """The state of a run just pushed: its upload event may take a moment to start the execution."""
    state = RunState(backend, run_id)
    deadline = time.monotonic() + timeout
    while True:
        try:
            state.update()
            return state
        except RunNotFoundError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def current_records(backend: Backend, records: list[RunRecord]) -> list[RunRecord]:
    """The records, each run still going brought up to date by its live job, as status shows it."""

    going = [record for record in records if not record.status.is_final]
    if not going:
        return records

    def current(record: RunRecord) -> RunRecord:
        return with_job(record, live_job(backend, record, record.run_id))

    with ThreadPoolExecutor(8) as pool:
        updated = dict(zip((r.run_id for r in going), pool.map(current, going), strict=True))
    return [updated.get(record.run_id, record) for record in records]
