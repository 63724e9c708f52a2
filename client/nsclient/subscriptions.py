"""A person's own notices by email: asked of the backend, which subscribes the address to the notices of
the asker's own runs (filtered on the runs' owner) or removes such a subscription. People hold no SNS
permission; the request is an object in their own inbox folder, as a cancel is, and the backend writes
back what it did (nsclient_common.subscription), which this waits for."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

from nsclient.errors import UserError
from nsclient_common.layout import subscription_key, subscription_request_key
from nsclient_common.request import InvalidRequest, validate_email
from nsclient_common.subscription import SubscriptionOutcome

if TYPE_CHECKING:
    from nsclient.backend import Backend

ANSWER_SECONDS = 60.0
POLL_SECONDS = 0.5


def _address(email: str) -> str:
    try:
        address = validate_email(email)
    except InvalidRequest:
        raise UserError(f"{email!r} is not an email address.") from None
    if "/" in address:
        raise UserError(f"{email!r} holds a '/', which nsclient cannot ask for: use another address.")
    return address


def request(backend: Backend, email: str, *, subscribe: bool, timeout: float = ANSWER_SECONDS) -> SubscriptionOutcome:
    """Ask the backend to (un)subscribe the address to the notices of the caller's runs; its answer."""
    address = _address(email)
    me = backend.caller_id()
    s3 = backend.client("s3")
    asked = s3.put_object(
        Bucket=backend.bucket, Key=subscription_request_key(address, me, subscribe=subscribe), Body=b""
    )
    version = asked.get("VersionId")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        outcome = _answer(backend, address, me)
        if outcome is not None and outcome.request_version == version:
            return outcome
        time.sleep(POLL_SECONDS)
    raise UserError(
        f"The backend has not answered the request for {address} within {timeout:.0f} s; "
        "it may still carry it out. Run the command again to see."
    )


def _answer(backend: Backend, address: str, me: str) -> SubscriptionOutcome | None:
    s3 = backend.client("s3")
    try:
        body = s3.get_object(Bucket=backend.bucket, Key=subscription_key(address, me))["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None
    return SubscriptionOutcome.model_validate(json.loads(body))
