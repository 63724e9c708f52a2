"""Notices reach only their owner, and the stack mails only the addresses it allows.

People hold no SNS permission: `nsclient subscribe` asks the backend, which subscribes the address
filtered on the asker's runs (the folder IAM decided, never metadata); `unsubscribe` removes only the
asker's own subscriptions. A notify address outside the deployment's NotifyAllowed is refused by push
before anything is uploaded, and dropped (with the reason on record) from a zip dropped by other means.
Two sessions of one role are two people: their folders are named by session."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError

from nsclient.local.principals import USERS_GROUP, Credentials
from nsclient_common.layout import inbox_key, record_key
from nsclient_common.record import RunStatus
from tests.client.helpers import aws_machine, build_folder
from tests.pipeline.test_isolation import Person, make_person
from tests.support import NOTIFY_ALLOWED, SNAKEFILE_OK, zip_bytes

if TYPE_CHECKING:
    from tests.support import Backend

TIMEOUT = 120
DENIED = {"AccessDenied", "AccessDeniedException", "AuthorizationError", "403"}


@pytest.fixture(scope="module")
def people(local_backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Person]:
    return {
        name: make_person(local_backend, f"notices-{name}", USERS_GROUP, tmp_path_factory.mktemp(f"notices-{name}"))
        for name in ("a", "b")
    }


def subscriptions(backend: Backend, address: str) -> list[dict[str, Any]]:
    """The topic's subscriptions of an address, with their filter policies (as the admin sees them)."""
    sns = backend.client("sns")
    found = []
    for subscription in sns.list_subscriptions_by_topic(TopicArn=backend.info.topic_arn)["Subscriptions"]:
        if subscription["Endpoint"] == address:
            attributes = sns.get_subscription_attributes(SubscriptionArn=subscription["SubscriptionArn"])["Attributes"]
            found.append({**subscription, "FilterPolicy": json.loads(attributes.get("FilterPolicy") or "null")})
    return found


def would_receive(subscription: dict[str, Any], published: tuple[Any, ...]) -> bool:
    """Whether SNS delivers a published notice to the subscription, by its filter policy as SNS applies it."""
    from moto.sns.utils import FilterPolicyMatcher

    if subscription["FilterPolicy"] is None:
        return True
    matcher = FilterPolicyMatcher(subscription["FilterPolicy"], "MessageAttributes")
    return matcher.matches(published[3], published[1])


def published_notice(backend: Backend, run_id: str) -> tuple[Any, ...]:
    from moto.sns.models import sns_backends

    topic = sns_backends["123456789012"][backend.info.region].topics[backend.info.topic_arn]
    (notice,) = [n for n in topic.sent_notifications if (n[3] or {}).get("run_id", {}).get("Value") == run_id]
    return tuple(notice)


@pytest.mark.slow
def test_a_persons_subscription_gets_their_runs_notices_and_no_one_elses(
    local_backend: Backend, people: dict[str, Person], tmp_path: Path
) -> None:
    a, b = people["a"], people["b"]
    a_address, b_address = f"a-{uuid.uuid4().hex[:6]}@example.org", f"b-{uuid.uuid4().hex[:6]}@example.org"
    for person, address in ((a, a_address), (b, b_address)):
        result = person.cli("subscribe", address)
        assert result.code == 0, result.err
        assert f"Subscribed {address} to the notices of your runs." in result.err + result.out
    (a_subscription,) = subscriptions(local_backend, a_address)
    (b_subscription,) = subscriptions(local_backend, b_address)
    assert a_subscription["FilterPolicy"] == {"owner": [a.userid]}

    # B's run names A's address as its notify: the filter is on the run's owner, so A still gets nothing of B's.
    pushed = b.cli("push", str(build_folder(tmp_path / "b-build", SNAKEFILE_OK)), "--notify", a_address)
    assert pushed.code == 0, pushed.err
    pushed_a = a.cli("push", str(build_folder(tmp_path / "a-build", SNAKEFILE_OK)))
    assert pushed_a.code == 0, pushed_a.err
    b_run, a_run = pushed.out.strip(), pushed_a.out.strip()
    for run_id in (a_run, b_run):
        local_backend.wait_for_record(run_id, timeout=TIMEOUT)
    b_notice, a_notice = published_notice(local_backend, b_run), published_notice(local_backend, a_run)
    assert would_receive(a_subscription, a_notice) and not would_receive(a_subscription, b_notice)
    assert would_receive(b_subscription, b_notice) and not would_receive(b_subscription, a_notice)

    # B asks to unsubscribe A's address: A's subscription is not B's to remove.
    result = b.cli("unsubscribe", a_address)
    assert result.code == 0, result.err
    assert "has no confirmed subscription to your runs' notices" in result.err + result.out
    assert len(subscriptions(local_backend, a_address)) == 1
    # A removes their own.
    result = a.cli("unsubscribe", a_address)
    assert result.code == 0 and "Unsubscribed" in result.err + result.out, result.err
    assert subscriptions(local_backend, a_address) == []


@pytest.mark.slow
def test_people_cannot_list_subscribe_unfiltered_or_remove_subscriptions(
    local_backend: Backend, people: dict[str, Person]
) -> None:
    # The team channel: an admin's unfiltered subscription, which carries every run's notice and the alarms.
    topic = local_backend.info.topic_arn
    team_address = f"team-{uuid.uuid4().hex[:6]}@example.org"
    team = local_backend.client("sns").subscribe(
        TopicArn=topic, Protocol="email", Endpoint=team_address, ReturnSubscriptionArn=True
    )["SubscriptionArn"]
    sns = people["b"].client(local_backend, "sns")
    attempts = {
        "list": lambda: sns.list_subscriptions_by_topic(TopicArn=topic),
        "subscribe unfiltered": lambda: sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="b@example.org"),
        "remove the team channel": lambda: sns.unsubscribe(SubscriptionArn=team),
    }
    for name, attempt in attempts.items():
        with pytest.raises(ClientError) as refused:
            attempt()
        assert refused.value.response["Error"]["Code"] in DENIED, name
    # Asking the backend to unsubscribe the team's address leaves the team channel as it was.
    result = people["b"].cli("unsubscribe", team_address)
    assert result.code == 0, result.err
    assert [s["SubscriptionArn"] for s in subscriptions(local_backend, team_address)] == [team]


@pytest.mark.slow
def test_push_refuses_an_address_the_stack_does_not_mail_before_uploading(
    local_backend: Backend, people: dict[str, Person], tmp_path: Path
) -> None:
    a = people["a"]
    # The stack's outputs, as `nsclient setup` saves them into [nsclient].
    a.cli.write_config(
        a.cli.config_file.read_text() + f"max-cpus = 64\nmax-memory-mib = 8192\nnotify-allowed = {NOTIFY_ALLOWED}\n"
    )
    before = local_backend.keys(f"inbox/{a.userid}/")
    result = a.cli("push", str(build_folder(tmp_path / "build", SNAKEFILE_OK)), "--notify", "me@elsewhere.net")
    assert result.code == 1
    assert result.error_lines == [
        f"Error: Nothing was uploaded: this deployment emails only addresses at {NOTIFY_ALLOWED}, not me@elsewhere.net."
    ]
    assert local_backend.keys(f"inbox/{a.userid}/") == before


@pytest.mark.slow
def test_a_dropped_zips_address_outside_the_allowed_ones_is_ignored_and_the_record_says_so(
    local_backend: Backend, people: dict[str, Person]
) -> None:
    a = people["a"]
    key = inbox_key(f"drop-notify-{uuid.uuid4().hex[:6]}", a.userid)
    body = zip_bytes({"Snakefile": SNAKEFILE_OK})
    metadata = {"notify": "victim@elsewhere.net", "submitter": "Ann"}
    put = a.client(local_backend, "s3").put_object(
        Bucket=local_backend.info.bucket, Key=key, Body=body, Metadata=metadata
    )
    from nsclient_common.runid import run_id_for_upload

    run_id = run_id_for_upload(key, put["VersionId"])
    record = local_backend.wait_for_record(run_id, timeout=TIMEOUT)
    assert record.status == RunStatus.SUCCEEDED and record.notify is None
    assert (
        record.notify_refused == f"this deployment emails only addresses at {NOTIFY_ALLOWED}, not victim@elsewhere.net"
    )
    assert local_backend.emails_sent(run_id) == []
    notice = local_backend.notice(run_id)["body"]
    assert f"Owner:       {a.userid}" in notice
    assert "Submitter:   Ann (as given by the uploader)" in notice
    assert "Not emailed: this deployment emails only addresses at" in notice


@pytest.mark.slow
def test_two_sessions_of_one_role_are_two_people(local_backend: Backend, tmp_path: Path) -> None:
    # The users policy attached to a role that two people assume, each under their own session name (as the
    # README's trust policy requires): each session's folders are its own.
    iam, sts = local_backend.client("iam"), local_backend.client("sts")
    account = sts.get_caller_identity()["Account"]
    role = f"nsclient-people-{uuid.uuid4().hex[:6]}"
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "sts:AssumeRole"}
        ],
    }
    arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    policy = next(
        p for p in iam.list_policies(Scope="Local")["Policies"] if p["PolicyName"].endswith("NsclientUserPolicy")
    )
    iam.attach_role_policy(RoleName=role, PolicyArn=policy["Arn"])
    sessions = {}
    for name in ("alice", "bob"):
        issued = sts.assume_role(RoleArn=arn, RoleSessionName=name)["Credentials"]
        sessions[name] = Credentials(issued["AccessKeyId"], issued["SecretAccessKey"], issued["SessionToken"])
    alice = aws_machine(tmp_path / "alice", local_backend, sessions["alice"])
    pushed = alice("push", str(build_folder(tmp_path / "alice-build", SNAKEFILE_OK)))
    assert pushed.code == 0, pushed.err
    run_id = pushed.out.strip()
    record = local_backend.wait_for_record(run_id, timeout=TIMEOUT)
    alice_id = local_backend.client_as("sts", sessions["alice"]).get_caller_identity()["UserId"]
    assert record.owner == alice_id and alice_id.endswith(":alice") and record.status == RunStatus.SUCCEEDED

    bob_s3 = local_backend.client_as("s3", sessions["bob"])
    bucket = local_backend.info.bucket
    for attempt in (
        lambda: bob_s3.get_object(Bucket=bucket, Key=record_key(run_id, alice_id)),
        lambda: bob_s3.list_objects_v2(Bucket=bucket, Prefix=f"runs/{alice_id}/"),
        lambda: bob_s3.put_object(Bucket=bucket, Key=inbox_key("as-alice", alice_id), Body=b"PK"),
    ):
        with pytest.raises(ClientError) as refused:
            attempt()
        assert refused.value.response["Error"]["Code"] in DENIED
    bob = aws_machine(tmp_path / "bob", local_backend, sessions["bob"])
    assert bob("status", run_id).code == 3
