"""Sending a run's notice (nsclient_common.delivery) against moto's S3, SNS and SES: once to the topic
whatever SES says of the email, the email's fate recorded in the notice marker, and a wait for another
sender's claim that ends by the caller's deadline."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from nsclient_common import delivery
from nsclient_common.delivery import NoticeBusy, deliver_notice
from nsclient_common.layout import notice_key
from nsclient_common.notice import Notice
from nsclient_common.runstore import claim_notice
from nsclient_common.settings import Settings
from tests.support import VirtualClock

BUCKET = "builds"
SENDER = "nsclient@example.org"
NOTICE = Notice(
    run_id="run-0123456789",
    status="FAILED",
    failure_class="exit-code",
    subject="[nsclient] run-0123456789 FAILED (exit-code)",
    body="Run run-0123456789: FAILED\n",
    to="someone@example.org",
)


@pytest.fixture
def aws(moto_account: str) -> Iterator[dict[str, Any]]:
    region = "us-east-1"
    factory: Any = boto3.client
    s3, sns, ses, sqs = (factory(name, region_name=region) for name in ("s3", "sns", "ses", "sqs"))
    s3.create_bucket(Bucket=BUCKET)
    topic = sns.create_topic(Name="notices")["TopicArn"]
    queue = sqs.create_queue(QueueName="subscriber")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    yield {"s3": s3, "sns": sns, "ses": ses, "sqs": sqs, "topic": topic, "queue": queue}


def settings(aws: dict[str, Any]) -> Settings:
    return Settings(bucket=BUCKET, topic_arn=aws["topic"], notify_from=SENDER)


def topic_messages(aws: dict[str, Any]) -> list[str]:
    """What a subscriber of the topic received."""
    received = aws["sqs"].receive_message(QueueUrl=aws["queue"], MaxNumberOfMessages=10, WaitTimeSeconds=0)
    return [json.loads(m["Body"])["Subject"] for m in received.get("Messages", [])]


def marker(aws: dict[str, Any]) -> dict[str, Any]:
    body = aws["s3"].get_object(Bucket=BUCKET, Key=notice_key(NOTICE.run_id, NOTICE.owner))["Body"].read()
    found: dict[str, Any] = json.loads(body)
    return found


def send(aws: dict[str, Any], **kwargs: Any) -> Any:
    return deliver_notice(NOTICE, settings(aws), s3=aws["s3"], sns=aws["sns"], ses=aws["ses"], **kwargs)


def test_refused_email_is_recorded_and_the_notice_marked_sent_once(aws: dict[str, Any]) -> None:
    # Given a sender SES has not verified
    first = send(aws)
    # Then the notice went to the topic, and the refusal is in the marker with SES's reason
    assert first.sent and first.email is not None and not first.email.delivered
    saved = marker(aws)
    assert saved["state"] == "sent"
    assert (saved["email"]["delivered"], saved["email"]["error_code"]) == (False, "MessageRejected")
    assert SENDER in saved["email"]["error_message"]
    # And a second sender (the backstop) finds it sent: the topic has the notice once
    assert send(aws).sent is False
    assert topic_messages(aws) == [NOTICE.subject]


def test_verified_sender_email_is_recorded_as_delivered(aws: dict[str, Any]) -> None:
    aws["ses"].verify_email_identity(EmailAddress=SENDER)
    delivery = send(aws)
    assert delivery.sent and delivery.email is not None and delivery.email.delivered
    saved = marker(aws)["email"]
    assert (saved["to"], saved["delivered"], saved["error_code"]) == (NOTICE.to, True, None)
    assert aws["ses"].get_send_quota()["SentLast24Hours"] == 1


def test_no_email_is_due_without_a_notify_address(aws: dict[str, Any]) -> None:
    unaddressed = NOTICE.model_copy(update={"to": None})
    delivery = deliver_notice(unaddressed, settings(aws), s3=aws["s3"], sns=aws["sns"], ses=aws["ses"])
    assert delivery.sent and delivery.email is None
    assert "email" not in marker(aws)


def test_wait_for_another_senders_claim_ends_at_the_deadline(
    aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = VirtualClock()
    clock.install(delivery, monkeypatch)
    # Given another sender claimed the notice just now and is still sending it
    assert claim_notice(aws["s3"], BUCKET, NOTICE.run_id, NOTICE.owner, {"state": "claimed"})
    # When a sender with 1 s left tries
    deadline = clock.now + 1.0
    with pytest.raises(NoticeBusy, match="still being sent"):
        send(aws, deadline=deadline)
    # Then it waited, and gave up by its deadline (not the claim's 120 s), and sent nothing
    assert clock.slept and clock.now <= deadline
    assert topic_messages(aws) == []
    assert marker(aws)["state"] == "claimed"
