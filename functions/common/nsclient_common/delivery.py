"""Sending a notice: once, to the topic, and by email to the run's notify address.

Email goes through SES when a verified sender is configured (NOTIFY_FROM); the local backend
sets OUTBOX_DIR instead and each notice lands there as an .eml file.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel

from nsclient_common.layout import notice_key
from nsclient_common.runstore import claim_notice, read_notice_marker

if TYPE_CHECKING:
    from nsclient_common.notice import Notice
    from nsclient_common.settings import Settings

LOCAL_SENDER = "nsclient@localhost"
# Longer than any sender takes from its claim to marking the notice sent (a few calls, each
# retried on throttling); well within the functions' timeouts, so a waiter can take over.
CLAIM_TTL_SECONDS = 120.0


# SNS message attributes. A person's subscription filters on `owner`, the run's folder, which IAM decides
# (never on metadata an uploader sets); `recipient` is the notify address, as the uploader gave it.
OWNER_ATTRIBUTE = "owner"
RECIPIENT_ATTRIBUTE = "recipient"


def email_message(notice: Notice, sender: str, to: str) -> EmailMessage:
    """The notice as a MIME multipart/alternative message (plain text, then HTML), folded as RFC 5322
    wants it: long headers continue on lines that start with a space and CRLF ends every line."""
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = sender
    message["To"] = to
    message["Subject"] = notice.subject
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain="nsclient.local")
    message["X-Nsclient-Run"] = notice.run_id
    message.set_content(notice.body)
    if notice.html:
        message.add_alternative(notice.html, subtype="html")
    return message


def message_attributes(notice: Notice) -> dict[str, dict[str, str]]:
    """What topic subscriptions filter on: the run, its status, its owner and its recipient (when it has them)."""
    attributes = {
        "run_id": {"DataType": "String", "StringValue": notice.run_id},
        "status": {"DataType": "String", "StringValue": notice.status},
    }
    if notice.failure_class:
        attributes["failure_class"] = {"DataType": "String", "StringValue": notice.failure_class}
    if notice.owner:
        attributes[OWNER_ATTRIBUTE] = {"DataType": "String", "StringValue": notice.owner}
    if notice.to:
        attributes[RECIPIENT_ATTRIBUTE] = {"DataType": "String", "StringValue": notice.to.strip().lower()}
    return attributes


def owner_filter_policy(owner: str) -> str:
    """The filter policy of a person's own subscription: the notices of the runs in their folder."""
    return json.dumps({OWNER_ATTRIBUTE: [owner]})


class EmailOutcome(BaseModel):
    """What became of the notice's email through SES, as recorded in the notice marker."""

    to: str
    delivered: bool
    message_id: str | None = None
    error_code: str | None = None
    error_message: str | None = None


class Delivery(BaseModel):
    sent: bool  # False: the run's notice had been sent already, by another path
    email: EmailOutcome | None = None  # None: no email was due (no notify address or no SES sender)


class NoticeBusy(Exception):
    """Another sender holds the run's notice claim and the caller has no time left to wait for it."""


def deliver_notice(
    notice: Notice,
    settings: Settings,
    *,
    s3: Any,
    sns: Any,
    ses: Any | None,
    claim_ttl: float = CLAIM_TTL_SECONDS,
    deadline: float | None = None,
) -> Delivery:
    """Send the notice unless it was sent already.

    The topic gets the notice once. An email SES refuses (an unverified sender, the account's sandbox)
    is recorded in the marker and the notice still marked sent: sending it again would only repeat
    the topic message, and the same refusal. `deadline` (time.monotonic()) bounds the wait for a
    claim held by another sender: past it NoticeBusy is raised, so that the caller can be retried.
    """
    if not _claim(notice, settings, s3, claim_ttl, deadline):
        return Delivery(sent=False)
    attributes = message_attributes(notice)
    if settings.topic_arn:
        sns.publish(
            TopicArn=settings.topic_arn, Subject=notice.subject, Message=notice.body, MessageAttributes=attributes
        )
    email: EmailOutcome | None = None
    if notice.to and settings.notify_from and ses is not None:
        email = send_email(ses, notice, settings.notify_from, notice.to)
    if settings.outbox_dir:
        outbox = Path(settings.outbox_dir)
        outbox.mkdir(parents=True, exist_ok=True)
        message = email_message(
            notice, settings.notify_from or LOCAL_SENDER, notice.to or "topic-subscribers@localhost"
        )
        (outbox / f"{notice.run_id}.eml").write_bytes(bytes(message))
    marker: dict[str, Any] = {"state": "sent", **notice.model_dump()}
    if email is not None:
        marker["email"] = email.model_dump()
    s3.put_object(
        Bucket=settings.bucket,
        Key=notice_key(notice.run_id, notice.owner),
        Body=json.dumps(marker, indent=2).encode(),
        ContentType="application/json",
    )
    return Delivery(sent=True, email=email)


def send_email(ses: Any, notice: Notice, sender: str, to: str) -> EmailOutcome:
    """Email the notice through SES, text and HTML; a refusal is returned (code and message), not raised."""
    try:
        response = ses.send_raw_email(Source=sender, RawMessage={"Data": bytes(email_message(notice, sender, to))})
    except ClientError as error:
        details = error.response.get("Error", {})
        return EmailOutcome(
            to=to,
            delivered=False,
            error_code=str(details.get("Code") or "Unknown"),
            error_message=str(details.get("Message") or error),
        )
    except BotoCoreError as error:  # no answer at all (endpoint unreachable, retries exhausted)
        return EmailOutcome(to=to, delivered=False, error_code=type(error).__name__, error_message=str(error))
    return EmailOutcome(to=to, delivered=True, message_id=response.get("MessageId"))


def _claim(
    notice: Notice, settings: Settings, s3: Any, ttl: float = CLAIM_TTL_SECONDS, deadline: float | None = None
) -> bool:
    """Claim the run's notice. A claim marked sent is final. A claim still being sent by another
    path (the state machine and the backstop, or a redelivered backstop event) is waited for, until
    `deadline` at most; one older than `ttl` was left by a sender that died before sending, and is
    taken over."""
    claim = {"state": "claimed", **notice.model_dump()}
    while True:
        if claim_notice(s3, settings.bucket, notice.run_id, notice.owner, claim):
            return True
        marker = read_notice_marker(s3, settings.bucket, notice.run_id, notice.owner)
        if marker is None:
            continue  # the marker went away between the two calls: claim again
        existing, written = marker
        if existing.get("state") == "sent":
            return False
        age = (datetime.now(UTC) - written).total_seconds()
        if age >= ttl:
            return True
        pause = min(1.0, ttl - age)
        if deadline is not None and time.monotonic() + pause > deadline:
            raise NoticeBusy(
                f"the notice of run {notice.run_id} is still being sent by another path "
                f"(claimed {age:.0f} s ago); stopping before this function's time runs out"
            )
        time.sleep(pause)
