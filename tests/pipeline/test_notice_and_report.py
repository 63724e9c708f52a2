"""The notice and the run report on the real state machine: what a person reads in their inbox for the
bundled example build (subject, both parts, the rule's own exit code, the follow-up commands with the real
id, cost), routing by recipient on the topic, the report's numbers for a build whose rules sleep and
allocate known amounts, and the example's report as a browser renders it.

Each build runs once for the module (module-scoped fixtures). The rendered notice, the report and its
screenshot are kept in test-artifacts/ at the repository's root.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from email import message_from_bytes, policy
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from nsclient.local.stack import LOCAL_USER_ID
from nsclient_common.cost import describe
from nsclient_common.delivery import owner_filter_policy
from nsclient_common.layout import report_html_key, report_json_key
from tests.support import Backend, zip_bytes

ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "client" / "nsclient" / "example_build"
ARTIFACTS = ROOT / "test-artifacts"
NOTIFY = "someone@example.org"
OTHER = "other@example.org"
GIB = 1024**3
MIB = 1024**2

# Rules that sleep and allocate known amounts: `hold` keeps 400 MiB for 3 s (and says so in its benchmark
# file), then `left` and `right` sleep 3 s side by side, then `join`. With 2 CPUs and 4 GiB asked for.
MEASURED_SNAKEFILE = r"""
rule all:
    input: "out/joined.txt"

rule hold:
    output: "out/held.txt"
    benchmark: "benchmarks/hold.tsv"
    shell: "python3 -c \"import time; block = b'x' * (400 * 2**20); time.sleep(3)\" && echo held > {output}"

rule left:
    input: "out/held.txt"
    output: "out/left.txt"
    shell: "sleep 3 && echo left > {output}"

rule right:
    input: "out/held.txt"
    output: "out/right.txt"
    shell: "sleep 3 && echo right > {output}"

rule join:
    input: "out/left.txt", "out/right.txt"
    output: "out/joined.txt"
    shell: "cat {input} > {output}"
"""


def example_zip() -> bytes:
    files = {
        str(path.relative_to(EXAMPLE)): path.read_bytes()
        for path in EXAMPLE.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    return zip_bytes(files)


def run(backend: Backend, body: bytes, name: str, metadata: dict[str, str], *, as_person: bool = False) -> str:
    """A dropped zip: into the local person's own inbox folder, or (as an admin) directly into inbox/."""
    if as_person:
        run_id = backend.upload_as(backend.user, body, name=name, metadata=metadata)
    else:
        run_id = backend.upload(body, name=name, metadata=metadata)
    backend.wait_for_record(run_id, timeout=180)
    backend.wait_for_execution(run_id)
    return run_id


def artifact(name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / name


@pytest.fixture(scope="module")
def subscribers(local_backend: Backend) -> dict[str, str]:
    """Queues subscribed to the topic before the runs: the local person's own (filtered on their runs, as
    `nsclient subscribe` makes it), the team's (no filter)."""
    sns, sqs = local_backend.client("sns"), local_backend.client("sqs")
    queues = {}
    for name, filter_policy in (("own", owner_filter_policy(LOCAL_USER_ID)), ("team", None)):
        url = sqs.create_queue(QueueName=f"notices-{name}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        attributes = {"RawMessageDelivery": "true"}
        if filter_policy:
            attributes |= {"FilterPolicy": filter_policy, "FilterPolicyScope": "MessageAttributes"}
        sns.subscribe(TopicArn=local_backend.info.topic_arn, Protocol="sqs", Endpoint=arn, Attributes=attributes)
        queues[name] = url
    return queues


@pytest.fixture(scope="module")
def failed_run(local_backend: Backend, subscribers: dict[str, str]) -> str:
    arguments = json.dumps(["--config", "fail_rule=tree"])
    metadata = {"notify": NOTIFY, "snakemake-args": arguments}
    return run(local_backend, example_zip(), "example-fails", metadata, as_person=True)


@pytest.fixture(scope="module")
def succeeded_run(local_backend: Backend, subscribers: dict[str, str]) -> str:
    return run(local_backend, example_zip(), "example", {"notify": OTHER, "cpus": "2", "memory": "4GiB"})


@pytest.fixture(scope="module")
def measured_run(local_backend: Backend) -> str:
    body = zip_bytes({"Snakefile": MEASURED_SNAKEFILE})
    return run(local_backend, body, "measured", {"cpus": "2", "memory": "4GiB"})


def report_of(backend: Backend, run_id: str) -> dict[str, Any]:
    key = backend.run_key(run_id, report_json_key)
    report: dict[str, Any] = json.loads(
        backend.client("s3").get_object(Bucket=backend.info.bucket, Key=key)["Body"].read()
    )
    return report


def outbox_message(backend: Backend, run_id: str) -> EmailMessage:
    message = message_from_bytes((Path(backend.info.outbox) / f"{run_id}.eml").read_bytes(), policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_a_failed_example_build_notice_says_what_failed_and_what_to_do(local_backend: Backend, failed_run: str) -> None:
    message = outbox_message(local_backend, failed_run)
    # The subject names the build, the outcome and its class, and how long it took
    assert re.fullmatch(r"\[nsclient\] example-fails FAILED \(exit-code\) in \d+s", str(message["Subject"]))
    plain, html = message.get_body(("plain",)), message.get_body(("html",))
    assert plain is not None and html is not None
    text = plain.get_content().replace("\r\n", "\n")  # the .eml's lines end in CRLF, as on the wire
    artifact("failure-notice.txt").write_text(text)
    # The rule's own exit status and snakemake's
    assert (
        "The build failed in rule tree: its command exited with status 3, so snakemake stopped with exit code 1."
        in text
    )
    assert "Failed rule: tree (exited 3)" in text
    # The follow-up commands with the real id, pull included for a failed run
    for command in ("status", "logs", "pull", "report"):
        assert f"  nsclient {command} {failed_run}\n" in text
    # Resources, queue, times, cost (an estimate), where things are
    for label in ("CPUs:", "Memory:", "Queue:", "Image:", "Queued:", "Running:", "Workdir:", "Log:", "Report:"):
        assert f"\n{label}" in text
    assert re.search(r"\nCost: +about \$\d+\.\d+ \(estimate: ", text)
    # The log's last lines are the build's own: the rule's error, not the upload of its results
    assert "ERROR: rule 'tree' failed deliberately" in text
    assert "nsclient-usage:" not in text and "adding: " not in text
    assert "its command exited with status 3, so snakemake stopped with exit code 1" in html.get_content()


def test_a_subscriber_gets_only_their_own_runs_and_the_team_channel_gets_all(
    local_backend: Backend, subscribers: dict[str, str], failed_run: str, succeeded_run: str
) -> None:
    sqs = local_backend.client("sqs")

    def received(name: str) -> str:
        messages = sqs.receive_message(QueueUrl=subscribers[name], MaxNumberOfMessages=10).get("Messages", [])
        return "\n".join(m["Body"] for m in messages)

    own, team = received("own"), received("team")
    assert failed_run in own and succeeded_run not in own
    assert failed_run in team and succeeded_run in team


def test_the_report_measures_what_rules_that_sleep_and_allocate_used(local_backend: Backend, measured_run: str) -> None:
    record = local_backend.record(measured_run)
    assert record is not None and record.status == "SUCCEEDED" and record.report_url
    report = report_of(local_backend, measured_run)
    artifact("measured-report.json").write_text(json.dumps(report, indent=2))

    rules = {rule["rule"]: rule for rule in report["rules"]}
    assert {name: rule["jobs"] for name, rule in rules.items()} == {"hold": 1, "left": 1, "right": 1, "join": 1}
    # Each sleeps 3 s (snakemake's timestamps are to the second, and on a busy machine it takes a while to
    # start a job)
    for name in ("hold", "left", "right"):
        assert 3 <= rules[name]["longest_seconds"] <= 20, rules[name]
    # left and right ran side by side; the critical path runs through hold, one of them, and join
    assert report["most_jobs_at_once"] == 2
    assert report["critical_path"][0] == "hold" and report["critical_path"][-1] == "join"
    assert len(report["critical_path"]) == 3 and report["critical_path_seconds"] >= 6
    # The job held 400 MiB (and snakemake itself), far from the 4 GiB asked for
    usage = report["usage"]
    assert 400 * MIB <= usage["peak_memory_bytes"] <= 1.5 * GIB
    # At least hold's 3 s, then left's and right's 3 s side by side (more only as the machine is busy)
    assert usage["cpu_seconds"] >= 0 and usage["wall_seconds"] >= 6
    # hold's benchmark file says what it alone used
    [hold] = report["rule_usage"]
    assert hold["rule"] == "hold" and 400 <= hold["peak_rss_mib"] <= 1024 and hold["longest_seconds"] >= 3
    # And one sentence says what to ask for next time
    peak = usage["peak_memory_bytes"] / GIB
    assert report["advice"].startswith(f"Asked 4 GiB, peaked at {peak:.1f}".rstrip("0").rstrip("."))
    assert "`--memory 1GiB` would do" in report["advice"]


def test_the_example_reports_critical_path_and_cpu_advice_agree_with_its_log(
    local_backend: Backend, succeeded_run: str
) -> None:
    report = report_of(local_backend, succeeded_run)

    # The example's steps each need the one before: the path runs through every one of them, quick or not
    assert report["critical_path"][:3] == ["filter", "distances", "tree"]
    assert report["critical_path"][3:] in (["export"], ["summary"])
    # The CPU advice agrees with the peak the report's table shows (to one decimal)
    shown = f"{report['usage']['peak_cpus']:.1f}"
    cpus_part = report["advice"].split("; ")[-1]
    if "all in use at times" in cpus_part:
        assert float(shown) >= 0.9 * 2 and f"({shown} busy at the peak)" in cpus_part
    else:
        assert f"{shown} CPUs busy" in cpus_part or f"at most {shown} busy" in cpus_part, cpus_part


class RenderedPage(HTMLParser):
    """The rules table's first column and the advice paragraph of a rendered report."""

    def __init__(self) -> None:
        super().__init__()
        self.rules: list[str] = []
        self.advice = ""
        self.code: list[str] = []  # the advice's code elements
        self._in_code = False
        self._in: str | None = None
        self._table: str | None = None
        self._cell = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "table":
            self._table = found.get("id")
        elif tag == "tr":
            self._cell = 0
        elif tag == "td":
            self._cell += 1
            self._in = "rule" if self._table == "rules" and self._cell == 1 else None
        elif tag == "p" and found.get("id") == "advice":
            self._in = "advice"
        elif tag == "code" and self._in == "advice":
            self.code.append("")
            self._in_code = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "code":
            self._in_code = False
        elif tag in ("td", "p"):
            self._in = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._in == "rule":
            self.rules.append(data)
        elif self._in == "advice":
            self.advice += data
            if self._in_code:
                self.code[-1] += data


@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Debian's chromium (.ci/run installs it)")
def test_a_browser_shows_the_example_reports_rules_and_advice(
    local_backend: Backend, succeeded_run: str, tmp_path: Path
) -> None:
    key = local_backend.run_key(succeeded_run, report_html_key)
    page = artifact("example-report.html")
    page.write_bytes(local_backend.client("s3").get_object(Bucket=local_backend.info.bucket, Key=key)["Body"].read())
    browser = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path / 'profile'}"]
    shown = subprocess.run(
        [*browser, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    screenshot = artifact("example-report.png")
    screenshot.unlink(missing_ok=True)
    subprocess.run(
        [*browser, f"--screenshot={screenshot}", "--window-size=1200,1600", page.as_uri()],
        capture_output=True,
        timeout=120,
        check=True,
    )

    rendered = RenderedPage()
    rendered.feed(shown)
    # The example's rules, as a person sees them in the page
    assert set(rendered.rules) == {"filter", "distances", "tree", "export", "summary"}
    # And the advice sentence, asked 4 GiB and 2 CPUs
    report = report_of(local_backend, succeeded_run)
    # (its options shown as code, not as backticks)
    assert rendered.advice == report["advice"].replace("`", "")
    assert re.fullmatch(r"Asked 4 GiB, peaked at [\d.]+ GiB: --memory 1GiB would do; 2 CPUs.*\.", rendered.advice)
    assert rendered.code[0] == "--memory 1GiB"
    assert screenshot.stat().st_size > 10_000  # a picture of the page, not an empty canvas
    artifact("example-advice.txt").write_text(rendered.advice + "\n")
    record = local_backend.record(succeeded_run)
    assert record is not None and record.cost_estimate is not None
    artifact("example-cost.txt").write_text(describe(record.cost_estimate) + "\n")
