"""The run record, runs/<run-id>/run.json: what `nsclient status --json` prints as is."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from nsclient_common.cost import CostEstimate


class RunStatus(StrEnum):
    SUBMITTED = "SUBMITTED"
    RUNNABLE = "RUNNABLE"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    REJECTED = "REJECTED"

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATUSES

    @property
    def stage(self) -> int:
        """How far along a run in this status is: a run only ever moves to a later stage."""
        return STATUS_STAGES[self]


FINAL_STATUSES = frozenset({RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED, RunStatus.REJECTED})
# The order a run goes through; every final status is the last stage.
STATUS_STAGES = {
    RunStatus.SUBMITTED: 0,
    RunStatus.RUNNABLE: 1,
    RunStatus.RUNNING: 2,
    **dict.fromkeys(FINAL_STATUSES, 3),
}


def later_status(seen: RunStatus, now: RunStatus) -> RunStatus:
    """The status to show after `seen` when a source now says `now`: never an earlier stage."""
    return now if now.stage >= seen.stage else seen


class FailureClass(StrEnum):
    EXIT_CODE = "exit-code"
    OUT_OF_MEMORY = "out-of-memory"
    SPOT_RECLAIMED = "spot-reclaimed"
    TIMEOUT = "timeout"
    STUCK_RUNNABLE = "stuck-runnable"
    RESOURCES_TOO_LARGE = "resources-too-large"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    INTERNAL = "internal"


class UploadSource(BaseModel):
    bucket: str
    key: str
    version_id: str | None = None


class RunRecord(BaseModel):
    """One run. The first sixteen fields are the documented contract; the rest add detail."""

    model_config = ConfigDict(extra="ignore")

    run_id: str
    status: RunStatus
    failure_class: FailureClass | None = None
    exit_code: int | None = None
    submitted_at: str
    started_at: str | None = None
    finished_at: str | None = None
    cpus: int | None = None
    memory_mib: int | None = None
    job_id: str | None = None
    execution_arn: str | None = None
    workdir_url: str | None = None
    log_url: str | None = None
    submitter: str | None = None  # a display name, as the uploader gave it: never who owns the run
    notify_refused: str | None = None  # why the upload's notify address was not emailed
    notify: str | None = None
    # Detail beyond the contract.
    reason: str | None = None
    failed_rule: str | None = None
    rule_exit_code: int | None = None  # the failed rule's own exit status (exit_code is snakemake's)
    build_name: str | None = None  # the pushed folder's (or dropped zip's) name
    cost_estimate_usd: float | None = None  # an estimate: see cost_estimate.basis
    cost_estimate: CostEstimate | None = None
    report_url: str | None = None
    image: str | None = None
    snakemake_args: list[str] = []
    job_queue: str | None = None
    # Where the job runs again after a Spot reclaim: a run's newest job may be on either queue.
    on_demand_job_queue: str | None = None
    attempts: int = 0
    upload: UploadSource | None = None
    # The version of workdir.zip that is the upload (the job writes its results as a later one): pull
    # reads the inputs' CRCs from it without listing the object's versions.
    input_version: str | None = None
    updated_at: str | None = None
    # Whose run it is: the uploader's IAM unique id, from the folder IAM let them upload into (never
    # from metadata, which anyone can write). None for a run outside any person's folder.
    owner: str | None = None

    def to_json(self) -> bytes:
        return self.model_dump_json(indent=2).encode() + b"\n"

    @classmethod
    def from_json(cls, data: bytes | str) -> RunRecord:
        return cls.model_validate_json(data)


def utc_now() -> str:
    return iso_utc(datetime.now(UTC))


# ISO 8601 in UTC with a Z, to the second: the one time format of the record.
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def iso_utc(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime(TIME_FORMAT)


def parse_iso(text: str) -> datetime:
    """A record's time (TIME_FORMAT) as an aware UTC datetime."""
    return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=UTC)


def iso_from_millis(millis: int | float | None) -> str | None:
    """Batch reports times as epoch milliseconds; 0 or None means 'never'."""
    if not millis:
        return None
    return iso_utc(datetime.fromtimestamp(millis / 1000, UTC))
