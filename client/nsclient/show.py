"""How a run is shown to a person: its duration, resources, status colour and the status view."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nsclient_common.cost import describe as describe_cost
from nsclient_common.display import duration_between, memory_mib, status_label
from nsclient_common.record import RunStatus, utc_now

if TYPE_CHECKING:
    from nsclient_common.record import RunRecord
    from nsclient_common.snakeprogress import SnakemakeProgress

STATUS_STYLES = {
    RunStatus.SUBMITTED: "yellow",
    RunStatus.RUNNABLE: "yellow",
    RunStatus.RUNNING: "blue",
    RunStatus.SUCCEEDED: "green",
    RunStatus.FAILED: "red",
    RunStatus.CANCELLED: "magenta",
    RunStatus.REJECTED: "red",
}


def status_style(status: RunStatus) -> str:
    return STATUS_STYLES[status]


def duration(record: RunRecord) -> str:
    """How long the run has run (to now while it runs); '-' before it started."""
    return duration_between(record.started_at, record.finished_at or utc_now()) or "-"


def resources(record: RunRecord) -> str:
    cpus = f"{record.cpus} cpu" if record.cpus else "default cpu"
    memory = memory_mib(record.memory_mib) if record.memory_mib else "default mem"
    return f"{cpus}, {memory}"


def progress_summary(progress: SnakemakeProgress | None) -> str | None:
    """'2 of 4 steps done, running tree', or None before snakemake has said anything of its plan."""
    if progress is None or (progress.total is None and not progress.running):
        return None
    parts = [f"{progress.done} of {progress.total} steps done" if progress.total else f"{progress.done} steps done"]
    if progress.running:
        parts.append("running " + ", ".join(progress.running))
    return ", ".join(parts)


def describe(record: RunRecord, progress: SnakemakeProgress | None = None) -> str:
    status = status_label(record.status, record.failure_class)
    rows = [
        ("Run", record.run_id),
        ("Status", status),
        ("Reason", record.reason),
        ("Failed rule", record.failed_rule),
        ("Exit code", record.exit_code),
        ("Submitted", record.submitted_at),
        ("Started", record.started_at),
        ("Finished", record.finished_at),
        ("Duration", duration(record) if record.started_at else None),
        ("Progress", progress_summary(progress)),
        ("Resources", resources(record)),
        ("Submitter", record.submitter),
        ("Notify", record.notify),
        ("Batch job", record.job_id),
        ("Results", record.workdir_url),
        ("Log", record.log_url),
        ("Cost", describe_cost(record.cost_estimate) if record.cost_estimate else None),
        ("Report", record.report_url),
    ]
    return "\n".join(f"{name + ':':<13}{value}" for name, value in rows if value not in (None, ""))
