"""What a person reads in a run's notice, for every way a run can end: the subject, what happened and
what to do next, the commands with the real run id, the resources, times, cost and report; the HTML
part with a hostile log shown as text; and the .eml a mail client opens."""

from __future__ import annotations

from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from html.parser import HTMLParser

import pytest

from nsclient_common.cost import estimate, rates_for
from nsclient_common.delivery import email_message
from nsclient_common.failure import ADVICE
from nsclient_common.notice import compose_notice
from nsclient_common.record import FailureClass, RunRecord, RunStatus

RUN_ID = "20261130T010203Z-zika-1a2b3c4d5e"
BUCKET = "builds"
FOLDER = f"s3://{BUCKET}/runs/AIDAEXAMPLE/{RUN_ID}"


def record(status: RunStatus, failure: FailureClass | None, reason: str, *, started: bool = True) -> RunRecord:
    from datetime import UTC, datetime

    cost = estimate(
        cpus=4,
        memory_mib=8192,
        started=datetime(2026, 11, 30, 1, 3, 0, tzinfo=UTC),
        stopped=datetime(2026, 11, 30, 1, 15, 0, tzinfo=UTC),
        rates=rates_for("on-demand"),
    )
    return RunRecord(
        run_id=RUN_ID,
        build_name="zika",
        status=status,
        failure_class=failure,
        reason=reason,
        exit_code=None if status == RunStatus.REJECTED else (0 if status == RunStatus.SUCCEEDED else 1),
        submitted_at="2026-11-30T01:02:03Z",
        started_at="2026-11-30T01:03:00Z" if started else None,
        finished_at="2026-11-30T01:15:00Z",
        cpus=4,
        memory_mib=8192,
        job_queue="nextstrain-job-queue",
        image="nextstrain/base:latest",
        workdir_url=f"{FOLDER}/workdir.zip",
        log_url=f"{FOLDER}/logs/build.log" if started else None,
        report_url=f"{FOLDER}/report.html" if started else None,
        cost_estimate=cost if started else None,
        cost_estimate_usd=cost.total_usd if started else None,
        notify="someone@example.org",
    )


OUTCOMES = {
    "succeeded": record(RunStatus.SUCCEEDED, None, "The build succeeded."),
    "failed": record(
        RunStatus.FAILED,
        FailureClass.EXIT_CODE,
        "The build failed in rule tree: its command exited with status 3, so snakemake stopped with exit code 1.",
    ).model_copy(update={"failed_rule": "tree", "rule_exit_code": 3}),
    "out of memory": record(RunStatus.FAILED, FailureClass.OUT_OF_MEMORY, "The job ran out of memory (exit code 137)."),
    "cancelled": record(RunStatus.CANCELLED, FailureClass.CANCELLED, "The run was cancelled."),
    "rejected": record(
        RunStatus.REJECTED,
        FailureClass.REJECTED,
        "The upload is not a zip file.",
        started=False,
    ),
}
TAIL = ["Error in rule tree:", "    jobid: 2", "Exiting because a job execution failed."]


# Never "CANCELLED (cancelled)": the class is said only where it adds to the status.
SUBJECT_LABELS = {
    "succeeded": "SUCCEEDED",
    "failed": "FAILED (exit-code)",
    "out of memory": "FAILED (out-of-memory)",
    "cancelled": "CANCELLED",
    "rejected": "REJECTED",
}


@pytest.mark.parametrize("outcome", OUTCOMES)
def test_each_ending_says_what_happened_what_to_do_and_how_to_follow_up(outcome: str) -> None:
    run = OUTCOMES[outcome]
    notice = compose_notice(run, TAIL)
    text = notice.body

    # The subject: the build's name, the outcome (with its class where that says more) and how long it took;
    # the id is in the body
    assert notice.subject == f"[nsclient] zika {SUBJECT_LABELS[outcome]} in 12m 57s"
    assert f"Run:         {RUN_ID}" in text
    # What happened and what to do next, in words
    assert run.reason is not None and run.reason in text
    if run.failure_class is not None:
        assert ADVICE[run.failure_class] in text
    else:
        assert f"Fetch the results with `nsclient pull {RUN_ID}`." in text
    # The commands with the real id; pull for every run that started, failed ones included
    assert f"  nsclient status {RUN_ID}" in text and f"  nsclient logs {RUN_ID}" in text
    assert (f"  nsclient pull {RUN_ID}" in text) == (run.started_at is not None)
    assert (f"  nsclient report {RUN_ID}" in text) == (run.started_at is not None)
    assert " RUN\n" not in text and "RUN_ID" not in text
    # Where everything is, the resources and the times
    assert f"Workdir:     {FOLDER}/workdir.zip" in text
    assert "CPUs:        4" in text and "Memory:      8 GiB" in text
    assert "Queue:       nextstrain-job-queue" in text and "Image:       nextstrain/base:latest" in text
    if run.started_at:
        assert "Queued:      57s" in text and "Running:     12m 00s" in text
        assert f"Report:      {FOLDER}/report.html" in text
        # 4 vCPUs and 8 GiB for 12 minutes: 0.8 vCPU-hours and 1.6 GiB-hours, said to be an estimate
        assert "Cost:        about $0.03 (estimate: 0.8 vCPU-hours and 1.6 GiB-hours at m5 on-demand prices" in text
    else:
        assert "Cost:" not in text and "Report:" not in text
    # The log's last lines, and the same facts in the HTML part
    assert text.endswith("\n".join(f"  {line}" for line in TAIL) + "\n")
    assert run.reason in notice.html and f"nsclient status {RUN_ID}" in notice.html


def test_a_failed_rule_shows_its_own_exit_code_and_snakemakes() -> None:
    text = compose_notice(OUTCOMES["failed"], TAIL).body
    assert "Failed rule: tree (exited 3)" in text
    assert "Exit code:   1 (snakemake's)" in text


class _Visible(HTMLParser):
    """The elements and the text a browser would show."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_hostile_log_lines_are_shown_as_text_in_the_html_part() -> None:
    hostile = [
        "<script>alert('x')</script>",
        "</pre><img src=x onerror=\"fetch('//evil')\"><pre>",
        "a & b < c > d \"quoted\" 'single'",
    ]
    html = compose_notice(OUTCOMES["failed"], hostile).html
    page = _Visible()
    page.feed(html)
    assert "script" not in page.tags and "img" not in page.tags
    shown = "".join(page.text)
    for line in hostile:
        assert line in shown


def _parsed(message: EmailMessage) -> EmailMessage:
    parsed = BytesParser(policy=policy.default).parsebytes(bytes(message))
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_the_email_is_multipart_text_and_html_with_a_long_subject_unfolded() -> None:
    long_name = "ncov-open-global-all-time-with-a-long-build-folder-name"
    run = OUTCOMES["failed"].model_copy(update={"build_name": long_name})
    notice = compose_notice(run, TAIL)
    raw = bytes(email_message(notice, "nsclient@example.org", "someone@example.org"))
    # Folded on the wire, as RFC 5322 wants lines under 78 characters, with CRLF line ends
    assert all(len(line) <= 78 for line in raw.split(b"\r\n") if line.startswith(b"Subject:"))
    assert b"\r\n " in raw.split(b"\r\n\r\n", 1)[0]

    message = _parsed(email_message(notice, "nsclient@example.org", "someone@example.org"))
    assert message["Subject"] == f"[nsclient] {long_name} FAILED (exit-code) in 12m 57s"
    assert message.get_content_type() == "multipart/alternative"
    plain, html = message.get_body(("plain",)), message.get_body(("html",))
    assert plain is not None and html is not None
    assert f"nsclient pull {RUN_ID}" in plain.get_content()
    assert "<table>" in html.get_content() and f"nsclient pull {RUN_ID}" in html.get_content()


def test_a_local_run_says_it_ran_this_machines_snakemake_not_the_image() -> None:
    run = OUTCOMES["succeeded"]  # asked for nextstrain/base:latest

    local = compose_notice(run, TAIL, local_toolchain=True)
    on_aws = compose_notice(run, TAIL)

    expected = (
        "none: the local backend ran this machine's snakemake (not nextstrain/base:latest, which only a Batch job runs)"
    )
    assert f"Image:       {expected}" in local.body.splitlines()
    assert "Image:       nextstrain/base:latest" in on_aws.body.splitlines()
