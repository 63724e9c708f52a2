"""The client's AWS clients: one per service, endpoint and credentials for the whole process.

Following a run asks for its status and log every second; building a client costs more than the
call it makes, so each is built once. boto3 clients are safe to share between threads.
"""

from __future__ import annotations

import functools
import os
import threading
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import NoRegionError

from nsclient.isotime import parse_timestamp

_CONFIG = Config(retries={"mode": "adaptive", "max_attempts": 8})
# The variables that choose the credentials (and endpoint) boto3 finds on its own.
_CREDENTIAL_VARIABLES = (
    "AWS_PROFILE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_ENDPOINT_URL",
)
_lock = threading.Lock()


def aws_client(
    service: str,
    region: str,
    endpoint_url: str | None = None,
    access_key_id: str | None = None,
    secret_access_key: str | None = None,
) -> Any:
    """A shared client. Without keys it takes the credentials of the environment, so a change of
    AWS_PROFILE or of the key variables within one process gets a client of its own."""
    environment = tuple(os.environ.get(name) for name in _CREDENTIAL_VARIABLES) if access_key_id is None else ()
    with _lock:
        return _cached(service, region, endpoint_url, access_key_id, secret_access_key, environment)


@functools.cache
def _cached(
    service: str,
    region: str,
    endpoint_url: str | None,
    access_key_id: str | None,
    secret_access_key: str | None,
    environment: tuple[str | None, ...],
) -> Any:
    # A session of its own: boto3's default session keeps the credentials it first found.
    session: Any = boto3.session.Session()
    session._session.get_component("response_parser_factory").set_parser_defaults(timestamp_parser=parse_timestamp)
    keys: dict[str, Any] = {}
    if access_key_id is not None:
        keys = {
            "aws_access_key_id": access_key_id,
            "aws_secret_access_key": secret_access_key,
            "aws_session_token": None,
        }
    try:
        return session.client(service, region_name=region, endpoint_url=endpoint_url, config=_CONFIG, **keys)
    except NoRegionError:
        return session.client(service, region_name="us-east-1", endpoint_url=endpoint_url, config=_CONFIG, **keys)
