"""Who receives a run's notice, on moto's SNS: a person subscribed to their own runs (a filter policy on
the notice's `recipient`) gets theirs and nobody else's; a subscription without a filter (the team
channel) gets every notice. `nsclient subscribe` makes such a filtered subscription, `unsubscribe`
removes it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from nsclient.backend import Backend
from nsclient.errors import UserError
from nsclient.subscriptions import subscribe, unsubscribe
from nsclient_common.delivery import deliver_notice, recipient_filter_policy
from nsclient_common.notice import Notice
from nsclient_common.settings import Settings

BUCKET = "builds"
REGION = "us-east-1"


def notice(run_id: str, to: str | None) -> Notice:
    return Notice(
        run_id=run_id,
        status="SUCCEEDED",
        failure_class=None,
        subject=f"[nsclient] {run_id} SUCCEEDED in 1m 00s",
        body=f"{run_id}: SUCCEEDED\n",
        to=to,
    )


@pytest.fixture
def aws(moto_account: str) -> Iterator[dict[str, Any]]:
    factory: Any = boto3.client
    s3, sns, ses, sqs = (factory(name, region_name=REGION) for name in ("s3", "sns", "ses", "sqs"))
    s3.create_bucket(Bucket=BUCKET)
    topic = sns.create_topic(Name="notices")["TopicArn"]
    yield {"s3": s3, "sns": sns, "ses": ses, "sqs": sqs, "topic": topic}


def subscriber(aws: dict[str, Any], name: str, filter_policy: str | None) -> str:
    """A queue subscribed to the topic (with the filter policy, if any); its URL."""
    url = aws["sqs"].create_queue(QueueName=name)["QueueUrl"]
    arn = aws["sqs"].get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    attributes = {"FilterPolicy": filter_policy, "FilterPolicyScope": "MessageAttributes"} if filter_policy else {}
    aws["sns"].subscribe(TopicArn=aws["topic"], Protocol="sqs", Endpoint=arn, Attributes=attributes)
    return str(url)


def received(aws: dict[str, Any], url: str) -> list[str]:
    messages = aws["sqs"].receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return sorted(json.loads(m["Body"])["Message"].split(":")[0] for m in messages)


def send(aws: dict[str, Any], sent: Notice) -> None:
    settings = Settings(bucket=BUCKET, topic_arn=aws["topic"])
    assert deliver_notice(sent, settings, s3=aws["s3"], sns=aws["sns"], ses=aws["ses"]).sent


def test_a_person_gets_only_their_own_runs_and_the_team_channel_gets_all(aws: dict[str, Any]) -> None:
    alice = subscriber(aws, "alice", recipient_filter_policy("Alice@Example.org"))
    team = subscriber(aws, "team", None)

    send(aws, notice("run-a-0123456789", "alice@example.org"))
    send(aws, notice("run-b-0123456789", "bob@example.org"))
    send(aws, notice("run-c-0123456789", None))  # pushed without --notify: the team channel only

    assert received(aws, alice) == ["run-a-0123456789"]
    assert received(aws, team) == ["run-a-0123456789", "run-b-0123456789", "run-c-0123456789"]


def test_subscribe_filters_on_the_address_and_unsubscribe_removes_it(aws: dict[str, Any]) -> None:
    backend = Backend(kind="aws", bucket=BUCKET, region=REGION, topic_arn=aws["topic"])

    subscribe(backend, "alice@example.org")

    [made] = aws["sns"].list_subscriptions_by_topic(TopicArn=aws["topic"])["Subscriptions"]
    assert (made["Protocol"], made["Endpoint"]) == ("email", "alice@example.org")
    attributes = aws["sns"].get_subscription_attributes(SubscriptionArn=made["SubscriptionArn"])["Attributes"]
    assert json.loads(attributes["FilterPolicy"]) == {"recipient": ["alice@example.org"]}
    assert attributes["FilterPolicyScope"] == "MessageAttributes"

    assert unsubscribe(backend, "ALICE@example.org") == 1
    assert aws["sns"].list_subscriptions_by_topic(TopicArn=aws["topic"])["Subscriptions"] == []


def test_an_address_that_is_not_one_is_refused_in_one_sentence(aws: dict[str, Any]) -> None:
    backend = Backend(kind="aws", bucket=BUCKET, region=REGION, topic_arn=aws["topic"])
    with pytest.raises(UserError, match=r"^'alice at example' is not an email address\.$"):
        subscribe(backend, "alice at example")
    assert aws["sns"].list_subscriptions_by_topic(TopicArn=aws["topic"])["Subscriptions"] == []
