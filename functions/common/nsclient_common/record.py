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


FINAL_STATUSES = frozenset({RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED, RunStatus.REJECTED})


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
    submitter: str | None = None
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
    attempts: int = 0
    upload: UploadSource | None = None
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


def iso_utc(moment: datetime) -> str:
    """ISO 8601 in UTC with a Z, to the second: the one time format of the record."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_from_millis(millis: int | float | None) -> str | None:
    """Batch reports times as epoch milliseconds; 0 or None means 'never'."""
    if not millis:
        return None
    return iso_utc(datetime.fromtimestamp(millis / 1000, UTC))
