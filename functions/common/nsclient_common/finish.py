"""Making a run's record final from what is known about its job, its log and its execution."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from nsclient_common.cost import Rates, estimate
from nsclient_common.display import build_name_of
from nsclient_common.failure import JobOutcome, classify
from nsclient_common.layout import log_key, s3_url
from nsclient_common.record import RunRecord, RunStatus, iso_from_millis, parse_iso, utc_now
from nsclient_common.runstore import find_record, write_record

if TYPE_CHECKING:
    from nsclient_common.cost import CostEstimate
    from nsclient_common.describedjob import JobFacts
    from nsclient_common.execution import ExecutionInput
    from nsclient_common.logarchive import LogSummary


def placeholder_record(execution: ExecutionInput) -> RunRecord:
    """A record for a run whose preparation died before writing one."""
    return RunRecord.model_validate(
        {
            "run_id": execution.run_id,
            "status": RunStatus.SUBMITTED,
            "submitted_at": utc_now(),
            "execution_arn": execution.execution_arn,
            "upload": execution.upload.model_dump() if execution.upload else None,
            "owner": execution.owner,
        }
    )


def finalize(
    record: RunRecord,
    facts: JobFacts,
    log: LogSummary | None,
    *,
    bucket: str,
    cancelled: bool = False,
    timed_out: bool = False,
    internal_error: str | None = None,
    note: str | None = None,
    rates: Rates | None = None,
    jobs: int = 1,
) -> RunRecord:
    """The final record. A record that is final already (rejected, or finished by another path) stays as it is.

    `internal_error` is one of our own steps failing, `note` a sentence added to the reason (for a
    problem that does not change the outcome, such as a log that could not be archived).
    """
    if record.status.is_final:
        return record
    outcome = JobOutcome(
        job_status=facts.status,
        exit_code=facts.exit_code,
        status_reason=facts.status_reason,
        container_reason=facts.container_reason,
        started=bool(facts.started_at),
        memory_error_in_log=bool(log and log.memory_error),
        failed_rule=log.failed_rule if log else None,
        rule_exit_code=log.rule_exit_code if log else None,
        cancelled=cancelled,
        timed_out=timed_out,
        error=internal_error or (f"{facts.error}: {facts.error_cause}" if facts.error else None),
    )
    verdict = classify(outcome)
    update: dict[str, Any] = {
        "status": verdict.status,
        "failure_class": verdict.failure_class,
        "reason": f"{verdict.reason} {note}" if note else verdict.reason,
        "exit_code": facts.exit_code,
        "job_id": facts.job_id or record.job_id,
        "job_queue": facts.job_queue or record.job_queue,
        "started_at": iso_from_millis(facts.started_at) or record.started_at,
        "finished_at": iso_from_millis(facts.stopped_at) or utc_now(),
        "failed_rule": log.failed_rule if log else None,
        "rule_exit_code": log.rule_exit_code if log else None,
        "build_name": build_name_of(record),
        "attempts": max(facts.attempts, record.attempts),
        # A run that asked for no cpus or memory of its own ran with its job definition's.
        "cpus": record.cpus or facts.vcpus,
        "memory_mib": record.memory_mib or facts.memory_mib,
        "updated_at": utc_now(),
    }
    if log is not None:
        update["log_url"] = s3_url(bucket, log_key(record.run_id, record.owner))
    if rates is not None:
        cost = cost_of(record, facts, rates, jobs)
        update |= {"cost_estimate": cost, "cost_estimate_usd": cost.total_usd}
    return record.model_copy(update=update)


def _at(millis: int | None) -> datetime | None:
    return datetime.fromtimestamp(millis / 1000, UTC) if millis else None


def cost_of(record: RunRecord, facts: JobFacts, rates: Rates, jobs: int = 1) -> CostEstimate:
    """The run's estimated cost. The functions' time is bounded from outside: from the upload's record
    to the job's creation (preparing) and from the job's stop to now (collecting, finalizing), at 1 GB."""
    now = datetime.now(UTC)
    submitted = parse_iso(record.submitted_at)
    created, stopped = _at(facts.created_at), _at(facts.stopped_at)
    preparing = (created - submitted).total_seconds() if created else 0.0
    wrapping_up = (now - stopped).total_seconds() if stopped else 0.0
    return estimate(
        cpus=record.cpus or facts.vcpus,
        memory_mib=record.memory_mib or facts.memory_mib,
        started=_at(facts.started_at),
        stopped=stopped,
        rates=rates,
        jobs=jobs,
        lambda_seconds=max(0.0, preparing) + max(0.0, wrapping_up) + 1.0,
    )


def load_or_placeholder(s3: Any, bucket: str, execution: ExecutionInput) -> RunRecord:
    """The run's record, or one made from the bare facts; its folder is the upload's owner's."""
    return find_record(s3, bucket, execution.run_id, execution.owner) or placeholder_record(execution)


def save(s3: Any, bucket: str, record: RunRecord) -> RunRecord:
    write_record(s3, bucket, record)
    return record
