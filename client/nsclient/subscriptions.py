"""A person's own notices: an email subscription to the notice topic whose filter policy passes only
the notices with their address as `recipient` (nsclient_common.delivery)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from nsclient.errors import UserError
from nsclient_common.delivery import recipient_filter_policy

if TYPE_CHECKING:
    from nsclient.backend import Backend

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PENDING = "pending confirmation"


def _topic(backend: Backend) -> str:
    if not backend.topic_arn:
        raise UserError("No notice topic is configured: run `nsclient setup --stack NAME` first.")
    return backend.topic_arn


def _check(email: str) -> str:
    if not _EMAIL.match(email):
        raise UserError(f"{email!r} is not an email address.")
    return email.strip()


def subscribe(backend: Backend, email: str) -> str:
    """Subscribe the address to its own runs' notices; the subscription's ARN, or PENDING until confirmed."""
    response = backend.client("sns").subscribe(
        TopicArn=_topic(backend),
        Protocol="email",
        Endpoint=_check(email),
        Attributes={"FilterPolicy": recipient_filter_policy(email), "FilterPolicyScope": "MessageAttributes"},
        ReturnSubscriptionArn=True,
    )
    arn = str(response["SubscriptionArn"])
    return PENDING if "pending" in arn.lower() else arn


def unsubscribe(backend: Backend, email: str) -> int:
    """Remove every confirmed subscription of the address to the topic; how many there were."""
    sns, topic, address = backend.client("sns"), _topic(backend), _check(email).lower()
    removed = 0
    for page in sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic):
        for subscription in page["Subscriptions"]:
            arn = subscription["SubscriptionArn"]
            if subscription["Endpoint"].lower() == address and arn.startswith("arn:"):
                sns.unsubscribe(SubscriptionArn=arn)
                removed += 1
    return removed
