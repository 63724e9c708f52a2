"""Strict IAM judges every request the local backend's server receives, whatever its headers claim:
an unsigned request naming another host is refused as an unsigned request to AWS is."""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import TYPE_CHECKING

import pytest

from nsclient_common.layout import inbox_key

if TYPE_CHECKING:
    from tests.support import Backend

# Names a client may put in Host: moto routes each to S3 as it would the backend's own address.
OTHER_HOSTS = ["s3.amazonaws.com", "example.org", "localhost:1"]


def _unsigned(backend: Backend, method: str, path: str, host: str, body: bytes | None = None) -> int:
    request = urllib.request.Request(f"{backend.info.endpoint_url}{path}", data=body, method=method)
    request.add_header("Host", host)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - the local backend
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


@pytest.mark.parametrize("host", OTHER_HOSTS)
def test_an_unsigned_listing_of_runs_is_refused_whatever_its_host(local_backend: Backend, host: str) -> None:
    status = _unsigned(local_backend, "GET", f"/{local_backend.info.bucket}?list-type=2&prefix=runs/", host)
    assert status == 403


@pytest.mark.parametrize("host", OTHER_HOSTS)
def test_an_unsigned_upload_into_a_persons_inbox_is_refused_and_writes_nothing(
    local_backend: Backend, host: str
) -> None:
    owner = local_backend.client_as("sts", local_backend.user).get_caller_identity()["UserId"]
    key = inbox_key(f"unsigned-{host.replace('.', '-').replace(':', '-')}", owner)
    status = _unsigned(
        local_backend, "PUT", f"/{local_backend.info.bucket}/{key}", host, body=b"PK\x05\x06" + bytes(18)
    )
    assert status == 403
    assert key not in local_backend.keys(key)


def test_an_unsigned_step_functions_call_naming_aws_is_refused(local_backend: Backend) -> None:
    request = urllib.request.Request(
        f"{local_backend.info.endpoint_url}/",
        data=b"{}",
        method="POST",
        headers={
            "Host": "states.us-east-1.amazonaws.com",
            "X-Amz-Target": "AWSStepFunctions.ListStateMachines",
            "Content-Type": "application/x-amz-json-1.0",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - the local backend
            status = int(response.status)
    except urllib.error.HTTPError as error:
        status = int(error.code)
    assert status == 403
