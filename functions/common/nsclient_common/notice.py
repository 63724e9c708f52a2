"""The notice sent when a run ends: one subject line and a plain-text body."""

from __future__ import annotations

import re

from pydantic import BaseModel

from nsclient_common.failure import ADVICE
from nsclient_common.record import RunRecord, RunStatus

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_SUBJECT_MAX = 100  # SNS subjects must stay under 100 characters


class Notice(BaseModel):
    run_id: str
    owner: str | None = None  # whose folder the run's notice marker is in
    status: str
    failure_class: str | None
    subject: str
    body: str
    to: str | None


def _one_line(text: str) -> str:
    """Subjects go into mail headers: no line breaks or control characters may reach them."""
    return " ".join(_CONTROL.sub(" ", text).split())


def compose_notice(record: RunRecord, log_tail: list[str], log_command: str = "nsclient logs") -> Notice:
    label = (
        record.status.value if record.failure_class is None else f"{record.status.value} ({record.failure_class.value})"
    )
    subject = _one_line(f"[nsclient] {record.run_id} {label}")[:_SUBJECT_MAX]
    lines = [f"Run {record.run_id}: {record.status.value}", ""]
    if record.reason:
        lines.append(record.reason)
    if record.failure_class is not None:
        lines.append(ADVICE[record.failure_class])
    lines.append("")
    facts = [
        ("Submitted", record.submitted_at),
        ("Started", record.started_at),
        ("Finished", record.finished_at),
        ("Exit code", record.exit_code),
        ("CPUs", record.cpus),
        ("Memory (MiB)", record.memory_mib),
        ("Submitter", record.submitter),
        ("Batch job", record.job_id),
        ("Results", record.workdir_url if record.status == RunStatus.SUCCEEDED else None),
        ("Log", record.log_url),
    ]
    lines += [f"{name + ':':<14}{value}" for name, value in facts if value not in (None, "")]
    lines += ["", f"Status:  nsclient status {record.run_id}", f"Log:     {log_command} {record.run_id}"]
    if record.status == RunStatus.SUCCEEDED:
        lines.append(f"Results: nsclient pull {record.run_id}")
    if log_tail:
        lines += ["", f"Last {len(log_tail)} lines of the log:", *(f"  {_CONTROL.sub('', line)}" for line in log_tail)]
    return Notice(
        run_id=record.run_id,
        owner=record.owner,
        status=record.status.value,
        failure_class=record.failure_class.value if record.failure_class else None,
        subject=subject,
        body="\n".join(lines) + "\n",
        to=record.notify,
    )
