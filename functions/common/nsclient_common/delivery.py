"""Sending a notice: once, to the topic, and by email to the run's notify address.

Email goes through SES when a verified sender is configured (NOTIFY_FROM); the local backend
sets OUTBOX_DIR instead and each notice lands there as an .eml file.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nsclient_common.layout import notice_key
from nsclient_common.runstore import claim_notice, read_notice_marker

if TYPE_CHECKING:
    from nsclient_common.notice import Notice
    from nsclient_common.settings import Settings

LOCAL_SENDER = "nsclient@localhost"
# Longer than any sender takes from its claim to marking the notice sent (a few calls, each
# retried on throttling); shorter than the functions' 300 s timeout, so a waiter can take over.
CLAIM_TTL_SECONDS = 120.0


def email_message(notice: Notice, sender: str, to: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = notice.subject
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain="nsclient.local")
    message["X-Nsclient-Run"] = notice.run_id
    message.set_content(notice.body)
    return message


def deliver_notice(
    notice: Notice, settings: Settings, *, s3: Any, sns: Any, ses: Any | None, claim_ttl: float = CLAIM_TTL_SECONDS
) -> bool:
    """Send the notice unless it was sent already; True if this call sent it."""
    if not _claim(notice, settings, s3, claim_ttl):
        return False
    attributes = {
        "run_id": {"DataType": "String", "StringValue": notice.run_id},
        "status": {"DataType": "String", "StringValue": notice.status},
    }
    if notice.failure_class:
        attributes["failure_class"] = {"DataType": "String", "StringValue": notice.failure_class}
    if notice.to:
        attributes["notify"] = {"DataType": "String", "StringValue": notice.to}
    if settings.topic_arn:
        sns.publish(
            TopicArn=settings.topic_arn, Subject=notice.subject, Message=notice.body, MessageAttributes=attributes
        )
    if notice.to and settings.notify_from and ses is not None:
        ses.send_email(
            Source=settings.notify_from,
            Destination={"ToAddresses": [notice.to]},
            Message={"Subject": {"Data": notice.subject}, "Body": {"Text": {"Data": notice.body}}},
        )
    if settings.outbox_dir:
        outbox = Path(settings.outbox_dir)
        outbox.mkdir(parents=True, exist_ok=True)
        message = email_message(
            notice, settings.notify_from or LOCAL_SENDER, notice.to or "topic-subscribers@localhost"
        )
        (outbox / f"{notice.run_id}.eml").write_bytes(bytes(message))
    s3.put_object(
        Bucket=settings.bucket,
        Key=notice_key(notice.run_id),
        Body=json.dumps({"state": "sent", **notice.model_dump()}, indent=2).encode(),
        ContentType="application/json",
    )
    return True


def _claim(notice: Notice, settings: Settings, s3: Any, ttl: float = CLAIM_TTL_SECONDS) -> bool:
    """Claim the run's notice. A claim marked sent is final. A claim still being sent by another
    path (the state machine and the backstop, or a redelivered backstop event) is waited for; one
    older than `ttl` was left by a sender that died before sending, and is taken over."""
    claim = {"state": "claimed", **notice.model_dump()}
    while True:
        if claim_notice(s3, settings.bucket, notice.run_id, claim):
            return True
        marker = read_notice_marker(s3, settings.bucket, notice.run_id)
        if marker is None:
            continue  # the marker went away between the two calls: claim again
        existing, written = marker
        if existing.get("state") == "sent":
            return False
        age = (datetime.now(UTC) - written).total_seconds()
        if age >= ttl:
            return True
        time.sleep(min(1.0, ttl - age))
