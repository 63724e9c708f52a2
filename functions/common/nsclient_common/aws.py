"""boto3 clients, made once per endpoint and reused across warm invocations.

Keyed on AWS_ENDPOINT_URL so that the local backend (and tests) can point the same code at
another endpoint without stale clients.
"""

from __future__ import annotations

import functools
import os
from typing import Any

import boto3
from botocore.config import Config

# Adaptive retries add client-side rate limiting and jittered backoff on throttling
# (TooManyRequestsException, SlowDown): the Lambda steps ride out bursts instead of failing.
_CONFIG = Config(retries={"mode": "adaptive", "max_attempts": 10}, connect_timeout=10, read_timeout=60)


def client(service: str) -> Any:
    return _client(service, os.environ.get("AWS_ENDPOINT_URL"), os.environ.get("AWS_REGION"))


@functools.cache
def _client(service: str, endpoint_url: str | None, region: str | None) -> Any:
    session: Any = boto3.session.Session()
    return session.client(service, endpoint_url=endpoint_url, region_name=region or "us-east-1", config=_CONFIG)
