"""The notice sent when a run ends: a subject a person can sort their inbox by, and the same facts
as plain text and as HTML: what happened and what to do next, the failed rule, the log's last lines,
the commands to follow up with, where everything is, the resources, times and cost, and the report."""

from __future__ import annotations

import re
from html import escape

from pydantic import BaseModel

from nsclient_common.cost import describe
from nsclient_common.display import build_name_of, duration_between, memory_mib, status_label
from nsclient_common.failure import ADVICE
from nsclient_common.payloads import cut_line
from nsclient_common.record import RunRecord, RunStatus

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_SUBJECT_MAX = 100  # SNS subjects must stay under 100 characters


_BODY_OPEN = '<!DOCTYPE html><html><body style="font-family:system-ui,sans-serif;color:#222">'
_PRE = '<pre style="background:#f4f4f4;padding:.5em">'


class Notice(BaseModel):
    run_id: str
    owner: str | None = None  # whose folder the run's notice marker is in
    status: str
    failure_class: str | None
    subject: str
    body: str  # plain text
    html: str = ""
    to: str | None


def _one_line(text: str) -> str:
    """Subjects go into mail headers: no line breaks or control characters may reach them."""
    return " ".join(_CONTROL.sub(" ", text).split())


def subject_of(record: RunRecord) -> str:
    name = build_name_of(record)
    label = status_label(record.status, record.failure_class)
    took = duration_between(record.submitted_at, record.finished_at)
    return _one_line(f"[nsclient] {name} {label}" + (f" in {took}" if took else ""))[:_SUBJECT_MAX]


def _what_next(record: RunRecord) -> list[str]:
    lines = [record.reason] if record.reason else []
    if record.status == RunStatus.SUCCEEDED:
        lines.append(f"Fetch the results with `nsclient pull {record.run_id}`.")
    elif record.failure_class is not None:
        lines.append(ADVICE[record.failure_class])
    return lines


def _commands(record: RunRecord) -> list[str]:
    commands = [f"nsclient status {record.run_id}", f"nsclient logs {record.run_id}"]
    if record.status in (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED) and record.started_at:
        commands.append(f"nsclient pull {record.run_id}")  # a failed run keeps what it made before failing
    if record.report_url:
        commands.append(f"nsclient report {record.run_id}")
    return commands


def _failed_rule(record: RunRecord) -> str | None:
    if not record.failed_rule:
        return None
    own = "its status is not in the log" if record.rule_exit_code is None else f"exited {record.rule_exit_code}"
    return f"{record.failed_rule} ({own})"


def _exit_code(record: RunRecord) -> str | None:
    if record.exit_code is None:
        return None
    return f"{record.exit_code} (snakemake's)" if record.failed_rule else str(record.exit_code)


# A local job runs the local backend's own snakemake: an image it was asked for is named, never run.
LOCAL_TOOLCHAIN = "none: the local backend ran this machine's snakemake"


def _image(record: RunRecord, local_toolchain: bool) -> str:
    if not local_toolchain:
        return record.image or "the job definition's"
    return LOCAL_TOOLCHAIN + (f" (not {record.image}, which only a Batch job runs)" if record.image else "")


def _facts(record: RunRecord, local_toolchain: bool = False) -> list[tuple[str, str]]:
    # A job given no cpus or memory of its own ran with its job definition's.
    default = "the job definition's" if record.job_id else None
    facts = [
        ("Run", record.run_id),
        ("Status", status_label(record.status, record.failure_class)),
        ("Failed rule", _failed_rule(record)),
        ("Exit code", _exit_code(record)),
        ("CPUs", default if record.cpus is None else str(record.cpus)),
        ("Memory", memory_mib(record.memory_mib) if record.memory_mib else default),
        ("Queue", record.job_queue),
        ("Image", _image(record, local_toolchain)),
        ("Queued", duration_between(record.submitted_at, record.started_at)),
        ("Running", duration_between(record.started_at, record.finished_at)),
        ("Cost", describe(record.cost_estimate) if record.cost_estimate else None),
        ("Submitted", record.submitted_at),
        ("Finished", record.finished_at),
        ("Owner", record.owner or "no one (dropped directly into inbox/)"),
        ("Submitter", f"{record.submitter} (as given by the uploader)" if record.submitter else None),
        ("Not emailed", record.notify_refused),
        ("Batch job", record.job_id),
        ("Workdir", record.workdir_url),
        ("Log", record.log_url),
        ("Report", record.report_url),
    ]
    return [(name, value) for name, value in facts if value]


def _clean(line: str) -> str:
    return cut_line(_CONTROL.sub("", line))  # as the tail cuts it at the source, for lines from elsewhere


def _text(record: RunRecord, tail: list[str], local_toolchain: bool) -> str:
    lines = [f"{build_name_of(record)}: {record.status.value}", ""]
    lines += _what_next(record)
    lines += ["", "Follow up:", *(f"  {command}" for command in _commands(record)), ""]
    lines += [f"{name + ':':<13}{value}" for name, value in _facts(record, local_toolchain)]
    if tail:
        lines += ["", f"Last {len(tail)} lines of the log:", *(f"  {line}" for line in tail)]
    return "\n".join(lines) + "\n"


def _html(record: RunRecord, tail: list[str], local_toolchain: bool) -> str:
    colour = "#2a7a3a" if record.status == RunStatus.SUCCEEDED else "#b03030"
    parts = [
        _BODY_OPEN,
        f'<h2 style="color:{colour}">{escape(build_name_of(record))}: {escape(record.status.value)}</h2>',
        *(f"<p>{escape(line)}</p>" for line in _what_next(record)),
    ]
    parts.append("<p>Follow up:</p><pre>" + "\n".join(escape(c) for c in _commands(record)) + "</pre>")
    rows = "".join(
        f'<tr><th style="text-align:left;padding-right:1em">{escape(name)}</th><td>{escape(value)}</td></tr>'
        for name, value in _facts(record, local_toolchain)
    )
    parts.append(f"<table>{rows}</table>")
    if tail:
        parts.append(f"<p>Last {len(tail)} lines of the log:</p>")
        parts.append(_PRE + "\n".join(escape(line) for line in tail) + "</pre>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def compose_notice(record: RunRecord, log_tail: list[str], *, local_toolchain: bool = False) -> Notice:
    tail = [_clean(line) for line in log_tail]
    return Notice(
        run_id=record.run_id,
        owner=record.owner,
        status=record.status.value,
        failure_class=record.failure_class.value if record.failure_class else None,
        subject=subject_of(record),
        body=_text(record, tail, local_toolchain),
        html=_html(record, tail, local_toolchain),
        to=record.notify,
    )
