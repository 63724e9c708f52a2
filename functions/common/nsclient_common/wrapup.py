"""Wrapping a run up, the one way every path does it: archive its jobs' log, make its record final, write
its report and save it, then send its notice once.

The state machine does it in steps (CollectLogs: archive_run_log; FinalizeRun: finish_run; NotifyRun:
send_notice); ReconcileRun, the backstop for an execution that died, calls the same functions in turn.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nsclient_common.cost import rates_for
from nsclient_common.delivery import deliver_notice
from nsclient_common.describedjob import JobFacts
from nsclient_common.execution import FinalizeResult
from nsclient_common.finish import finalize, save
from nsclient_common.layout import log_key
from nsclient_common.logarchive import LogSource, archive_log
from nsclient_common.notice import compose_notice
from nsclient_common.observability import count_notice_delivery, count_run_finished
from nsclient_common.reportstore import write_report, write_timeline
from nsclient_common.timeline import TimelineReader

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger

    from nsclient_common.delivery import Delivery
    from nsclient_common.logarchive import LogSummary
    from nsclient_common.notice import Notice
    from nsclient_common.record import RunRecord
    from nsclient_common.settings import Settings


@dataclass(frozen=True)
class Ending:
    """What is known of how a run ended, to make its record final from."""

    facts: JobFacts = field(default_factory=JobFacts)  # the last job's, with the attempts of all
    log: LogSummary | None = None  # None: no log was archived
    jobs: int = 1  # how many jobs ran: the cost counts each
    cancelled: bool = False
    timed_out: bool = False
    internal_error: str | None = None  # one of our own steps failing
    note: str | None = None  # a sentence added to the reason, for what does not change the outcome


def _heading(number: int, job: JobFacts) -> str:
    where = f" on queue {job.job_queue}" if job.job_queue else ""
    how = f": {job.status_reason}" if job.status_reason else ""
    return f"===== nsclient: attempt {number}{where}{how} ====="


def archive_run_log(
    history: list[JobFacts], settings: Settings, *, run_id: str, owner: str | None, logs: Any, s3: Any
) -> LogSummary:
    """Copy the log of each job the run ran (oldest first, each under a heading when there were more than
    one) to the run's logs/build.log, saying so when the last could not be run at all; the timeline the
    report reads is read from the lines as they are copied and stored beside them (logs/timeline.json),
    so that the report need not read the log again. It is not part of the summary, which the state
    machine passes on and limits."""
    last = history[-1] if history else JobFacts()
    preface = f"(the job could not be run: {last.error}: {last.error_cause})\n" if last.error else ""
    sources = [LogSource(job.log_stream, group=job.log_group) for job in history]
    if len(history) > 1:
        sources = [LogSource(job.log_stream, _heading(n, job), job.log_group) for n, job in enumerate(history, 1)]
    reader = TimelineReader()
    summary = archive_log(
        logs,
        s3,
        sources=sources or [LogSource(None)],
        bucket=settings.bucket,
        key=log_key(run_id, owner),
        preface=preface,
        read_along=reader.feed,
    )
    write_timeline(s3, settings.bucket, run_id, owner, reader.timeline())
    return summary


def notice_of(record: RunRecord, tail: list[str], settings: Settings) -> Notice:
    return compose_notice(record, tail, local_toolchain=settings.local_toolchain)


def finish_run(record: RunRecord, ending: Ending, settings: Settings, *, s3: Any, logger: Logger) -> FinalizeResult:
    """The run's final record and its notice. A record not final yet is made final from the ending, its
    report written, then saved and counted; one final already (another path finished it) is left as it is."""
    final = finalize(
        record,
        ending.facts,
        ending.log,
        bucket=settings.bucket,
        cancelled=ending.cancelled,
        timed_out=ending.timed_out,
        internal_error=ending.internal_error,
        note=ending.note,
        rates=rates_for(settings.cost_rates, settings.instance_types),
        jobs=ending.jobs,
    )
    if final is not record:
        try:
            final = write_report(s3, settings.bucket, final)
        except Exception:  # the report is an extra: the run is still wrapped up without it
            logger.exception("run report not written")
        save(s3, settings.bucket, final)
        count_run_finished(final)
    return FinalizeResult(record=final, notice=notice_of(final, ending.log.tail if ending.log else [], settings))


def send_notice(
    notice: Notice,
    settings: Settings,
    *,
    s3: Any,
    sns: Any,
    ses: Any | None,
    logger: Logger,
    deadline: float | None = None,
) -> Delivery:
    """Send the notice once (deliver_notice's marker guards against a second) and count what became of it."""
    delivery = deliver_notice(notice, settings, s3=s3, sns=sns, ses=ses, deadline=deadline)
    count_notice_delivery(delivery)
    if delivery.email is not None and not delivery.email.delivered:
        # Recorded in the notice marker; the run is still notified, as sending again would repeat the notice.
        logger.warning("notice email not delivered", extra=delivery.email.model_dump())
    return delivery
