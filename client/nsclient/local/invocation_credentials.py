"""Each Lambda invocation calls AWS with its own function role's credentials.

On AWS a Lambda instance holds one function's clients, made with that function's role. Here every
function's handlers run in one process, so nsclient_common.aws's client cache is keyed also on the
credentials of the invocation running in the current thread (a context variable the Lambda runtime
sets), and strict IAM (strict_iam.py) judges each call by the calling function's own policies.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator

    from nsclient.local.principals import Credentials

_INVOCATION_CREDENTIALS: contextvars.ContextVar[Credentials | None] = contextvars.ContextVar(
    "invocation_credentials", default=None
)


@contextlib.contextmanager
def calling_as(credentials: Credentials | None) -> Iterator[None]:
    """Clients made in this context call AWS with these credentials (None: the process's own)."""
    token = _INVOCATION_CREDENTIALS.set(credentials)
    try:
        yield
    finally:
        _INVOCATION_CREDENTIALS.reset(token)


class ClientsByInvocation:
    """nsclient_common.aws._client, keyed also on the invoking function's credentials.

    Every function's clients come from one boto3 session: its loader parses each service's model once
    (S3's alone is tens of MB of Python objects), where a session of each client's own parsed it again
    for every function. Each client still holds its own function's credentials, as on Lambda."""

    def __init__(self, shared: Any, config: Any):
        self._shared, self._config = shared, config
        self._as = functools.cache(self._make)
        self._session: Any = None
        self._lock = threading.Lock()  # a boto3 session is not safe to make clients from in two threads at once

    def _make(self, service: str, endpoint_url: str | None, region: str | None, credentials: Credentials) -> Any:
        import boto3

        with self._lock:
            if self._session is None:
                self._session = boto3.session.Session()
            return self._session.client(
                service,
                endpoint_url=endpoint_url,
                region_name=region or "us-east-1",
                config=self._config,
                **credentials.client_kwargs(),
            )

    def __call__(self, service: str, endpoint_url: str | None, region: str | None) -> Any:
        credentials = _INVOCATION_CREDENTIALS.get()
        if credentials is None:
            return self._shared(service, endpoint_url, region)
        return self._as(service, endpoint_url, region, credentials)

    def cache_clear(self) -> None:
        self._shared.cache_clear()
        self._as.cache_clear()


def install() -> None:
    """Make handlers' clients (nsclient_common.aws) use the invoking function's role; once per process."""
    from nsclient_common import aws

    if not isinstance(aws._client, ClientsByInvocation):
        aws._client = ClientsByInvocation(aws._client, aws._CONFIG)  # type: ignore[assignment]
