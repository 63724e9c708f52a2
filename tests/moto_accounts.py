"""moto in this process for one test, in an AWS account of the test's own.

`mock_aws()` entered and left as usual resets every moto backend of the process: the session's local
backend (a moto server in this same process) would lose its stack, users and runs. Here moto starts
without a reset and stops without wiping, and each test's requests land in a fresh account, so a test
neither sees nor leaves anything another test (or the local backend, account 123456789012) holds.

The account is chosen by the request's host: calls moto intercepts in-process go to AWS's own hosts
(*.amazonaws.com), while the local backend's server is called on a loopback address."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from moto import mock_aws
from moto.core.base_backend import BackendDict, backend_lock
from moto.core.responses import BaseResponse
from moto.s3.models import s3_backends

_lock = threading.Lock()
_account: str | None = None  # the running test's, while it runs
_get_current_account = BaseResponse.get_current_account


def _current_account(self: BaseResponse) -> str:
    account = _account
    if account is not None and self.headers.get("Host", "").split(":")[0].endswith("amazonaws.com"):
        return account
    return _get_current_account(self)


def _forget(account: str) -> None:
    """Drop what moto holds for the account, and free its bucket names (S3's are global). Not by the backends'
    reset(): S3's closes every object moto holds, in every account, the local backend's too."""
    with backend_lock:
        if dict.__contains__(s3_backends, account):
            for backend in dict.values(s3_backends[account]):
                for name in backend.buckets:
                    s3_backends.bucket_accounts.pop(name, None)
        for backends in list(BackendDict._instances):  # type: ignore[misc]
            if dict.__contains__(backends, account):
                dict.__delitem__(backends, account)


@contextmanager
def own_account() -> Iterator[str]:
    """moto in-process, every in-process request in a new account (returned), forgotten afterwards."""
    global _account
    account = f"{random.SystemRandom().randrange(10**11, 10**12):012d}"
    with _lock:
        if BaseResponse.get_current_account is not _current_account:
            BaseResponse.get_current_account = _current_account  # type: ignore[method-assign]
    mock: Any = mock_aws()
    mock.start(reset=False)
    _account = account
    try:
        yield account
    finally:
        _account = None
        mock.stop(remove_data=False)
        _forget(account)
