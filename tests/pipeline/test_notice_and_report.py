"""The notice and the run report of the bundled example build, on the real state machine: what a person
reads in their inbox (subject, both parts, the rule's own exit code, the follow-up commands with the
real id, cost), the report the backend writes, and routing by recipient on the topic."""

from __future__ import annotations

import json
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from nsclient_common.delivery import recipient_filter_policy
from nsclient_common.layout import report_json_key
from tests.support import Backend, zip_bytes

EXAMPLE = Path(__file__).parents[2] / "client" / "nsclient" / "example_build"
NOTIFY = "someone@example.org"


def example_zip() -> bytes:
    files = {
        str(path.relative_to(EXAMPLE)): path.read_bytes()
        for path in EXAMPLE.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    return zip_bytes(files)


def run_example(backend: Backend, name: str, metadata: dict[str, str]) -> str:
    run_id = backend.upload(example_zip(), name=name, metadata={"notify": NOTIFY, "cpus": "2", **metadata})
    backend.wait_for_record(run_id, timeout=180)
    backend.wait_for_execution(run_id)
    return run_id


@pytest.fixture(scope="module")
def failed_run(local_backend: Backend) -> str:
    return run_example(local_backend, "example-fails", {"snakemake-args": json.dumps(["--config", "fail_rule=tree"])})


@pytest.fixture(scope="module")
def succeeded_run(local_backend: Backend) -> str:
    return run_example(local_backend, "example", {"memory": "4GiB"})


def outbox_message(backend: Backend, run_id: str) -> EmailMessage:
    message = message_from_bytes((Path(backend.info.outbox) / f"{run_id}.eml").read_bytes(), policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_a_failed_example_build_notice_says_what_failed_and_what_to_do(local_backend: Backend, failed_run: str) -> None:
    message = outbox_message(local_backend, failed_run)
    # The subject names the build, the outcome and its class, and how long it took; unfolded whole
    assert str(message["Subject"]).startswith("[nsclient] example-fails FAILED (exit-code) in ")
    plain, html = message.get_body(("plain",)), message.get_body(("html",))
    assert plain is not None and html is not None
    text = plain.get_content()
    Path("test-artifacts").mkdir(exist_ok=True)
    Path("test-artifacts/failure-notice.txt").write_text(text)
    # The rule's own exit status and snakemake's
    assert "The build failed in rule tree: the rule exited 3, then snakemake 1." in text
    assert "Failed rule: tree (exited 3)" in text
    # The follow-up commands with the real id, pull included for a failed run
    for command in ("status", "logs", "pull", "report"):
        assert f"nsclient {command} {failed_run}" in text
    # Resources, queue, times, cost (an estimate), where things are, the log's last lines
    for label in ("CPUs:", "Queue:", "Image:", "Queued:", "Running:", "Workdir:", "Log:", "Report:"):
        assert label in text
    assert "(estimate:" in text
    assert "failed deliberately" in text
    assert "the rule exited 3, then snakemake 1" in html.get_content()


def test_the_run_report_is_written_for_a_run_that_started(local_backend: Backend, succeeded_run: str) -> None:
    record = local_backend.wait_for_record(succeeded_run)
    assert record.report_url and record.cost_estimate_usd is not None and record.cost_estimate_usd > 0
    body = local_backend.client("s3").get_object(
        Bucket=local_backend.info.bucket, Key=local_backend.run_key(succeeded_run, report_json_key)
    )
    report = json.loads(body["Body"].read())
    rules = {rule["rule"]: rule["jobs"] for rule in report["rules"]}
    assert {"filter", "distances", "tree", "export", "summary"} <= set(rules)
    assert report["usage"] is not None and report["usage"]["peak_memory_bytes"] > 0
    assert report["advice"].startswith("Asked 4 GiB, peaked at ")
    Path("test-artifacts").mkdir(exist_ok=True)
    Path("test-artifacts/example-report.json").write_text(json.dumps(report, indent=2))


def test_a_subscriber_gets_only_their_own_runs_and_the_team_channel_gets_all(local_backend: Backend) -> None:
    sns, sqs = local_backend.client("sns"), local_backend.client("sqs")
    queues = {}
    for name, policy_text in (("alice", recipient_filter_policy("alice@example.org")), ("team", None)):
        url = sqs.create_queue(QueueName=f"notices-{name}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        attributes = {"RawMessageDelivery": "true"}
        if policy_text:
            attributes |= {"FilterPolicy": policy_text, "FilterPolicyScope": "MessageAttributes"}
        sns.subscribe(TopicArn=local_backend.info.topic_arn, Protocol="sqs", Endpoint=arn, Attributes=attributes)
        queues[name] = url
    from tests.support import SNAKEFILE_OK

    runs = {
        who: local_backend.upload(
            zip_bytes({"Snakefile": SNAKEFILE_OK}), name=f"route-{who}", metadata={"notify": f"{who}@example.org"}
        )
        for who in ("alice", "bob")
    }
    for run_id in runs.values():
        local_backend.wait_for_record(run_id)
        local_backend.wait_for_execution(run_id)

    def received(name: str) -> str:
        messages = sqs.receive_message(QueueUrl=queues[name], MaxNumberOfMessages=10).get("Messages", [])
        return "\n".join(m["Body"] for m in messages)

    alice, team = received("alice"), received("team")
    assert runs["alice"] in alice and runs["bob"] not in alice
    assert runs["alice"] in team and runs["bob"] in team
