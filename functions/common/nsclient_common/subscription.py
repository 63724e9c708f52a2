"""What became of a person's request to have their runs' notices emailed somewhere (or no longer):
written by the backend to runs/<owner>/notices/<email>.json, read by the asker's client."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field

from nsclient_common.record import utc_now


class SubscriptionState(StrEnum):
    PENDING = "pending confirmation"  # AWS has emailed the address a confirmation link
    SUBSCRIBED = "subscribed"
    UNSUBSCRIBED = "unsubscribed"
    NONE = "not subscribed"  # an unsubscribe that found nothing of the asker's to remove
    REFUSED = "refused"


class SubscriptionOutcome(BaseModel):
    email: str
    state: SubscriptionState
    reason: str | None = None
    subscription_arn: str | None = None
    request_version: str | None = None  # the version of the request object this answers
    at: str = Field(default_factory=utc_now)
