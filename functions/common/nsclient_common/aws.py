"""boto3 clients, made once per endpoint and reused across warm invocations.

Keyed on AWS_ENDPOINT_URL (and AWS_REGION), read from the invocation's environment
(nsclient_common.environment), so that the local backend (and tests) can point the same code at
another endpoint without stale clients. Typed by the types-boto3 stubs (a development
dependency): `client("s3")` is an S3Client to mypy.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Literal, overload

import boto3
from botocore.config import Config

from nsclient_common.environment import function_environment

if TYPE_CHECKING:
    from types_boto3_batch import BatchClient
    from types_boto3_iam import IAMClient
    from types_boto3_logs import CloudWatchLogsClient
    from types_boto3_s3 import S3Client
    from types_boto3_ses import SESClient
    from types_boto3_sns import SNSClient
    from types_boto3_stepfunctions import SFNClient

# Adaptive retries add client-side rate limiting and jittered backoff on throttling
# (TooManyRequestsException, SlowDown): the Lambda steps ride out bursts instead of failing.
_CONFIG = Config(retries={"mode": "adaptive", "max_attempts": 10}, connect_timeout=10, read_timeout=60)


@overload
def client(service: Literal["s3"]) -> S3Client: ...
@overload
def client(service: Literal["stepfunctions"]) -> SFNClient: ...
@overload
def client(service: Literal["batch"]) -> BatchClient: ...
@overload
def client(service: Literal["logs"]) -> CloudWatchLogsClient: ...
@overload
def client(service: Literal["sns"]) -> SNSClient: ...
@overload
def client(service: Literal["ses"]) -> SESClient: ...
@overload
def client(service: Literal["iam"]) -> IAMClient: ...
def client(service: str) -> Any:
    # The invocation's own endpoint and region: on Lambda the process's; on the local backend its function's,
    # whatever else in the process (a test) sets in os.environ meanwhile.
    environment = function_environment()
    return _client(service, environment.get("AWS_ENDPOINT_URL"), environment.get("AWS_REGION"))


@functools.cache
def _client(service: str, endpoint_url: str | None, region: str | None) -> Any:
    session: Any = boto3.session.Session()
    return session.client(service, endpoint_url=endpoint_url, region_name=region or "us-east-1", config=_CONFIG)
