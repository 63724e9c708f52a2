"""The local container credentials endpoint answers as ECS's agent does: a job's role credentials issued
once as it starts and served to every request from then on, an error while the role cannot be assumed
yet, and nothing for a path no running job holds."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from nsclient.local.container_credentials import FULL_URI_VAR, ContainerCredentialsEndpoint, RoleNotAssumable
from nsclient.local.principals import Credentials

ROLE = "arn:aws:iam::123456789012:role/nsclient/job"


class Issuer:
    """ECS's AssumeRole, counted; refused while `assumable` is False."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.assumable = True

    def __call__(self, role_arn: str, session: str) -> Credentials:
        self.calls.append((role_arn, session))
        if not self.assumable:
            raise RoleNotAssumable(f"{role_arn} is not yet assumable")
        return Credentials(f"ASIA{len(self.calls)}", "secret", "token")


@pytest.fixture
def issuer() -> Issuer:
    return Issuer()


@pytest.fixture
def endpoint(issuer: Issuer) -> Iterator[ContainerCredentialsEndpoint]:
    served = ContainerCredentialsEndpoint(issuer)
    yield served
    served.close()


def fetch(uri: str) -> tuple[int, dict[str, Any]]:
    """What a job's SDK gets from the URI it was given."""
    try:
        with urllib.request.urlopen(uri, timeout=10) as response:  # noqa: S310 - the loopback endpoint
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_a_jobs_credentials_are_issued_as_it_starts_and_every_request_gets_them(
    endpoint: ContainerCredentialsEndpoint, issuer: Issuer
) -> None:
    uri = endpoint.open_for("job-1", ROLE)[FULL_URI_VAR]
    assert issuer.calls == [(ROLE, "job-1")]  # before the job's first request, as the agent holds them

    answers = [fetch(uri) for _ in range(3)]

    assert [status for status, _ in answers] == [200] * 3
    assert {body["AccessKeyId"] for _, body in answers} == {"ASIA1"}
    assert answers[0][1]["RoleArn"] == ROLE and answers[0][1]["Token"] == "token"
    assert len(issuer.calls) == 1
    # Once the job has ended its path answers nothing
    endpoint.close_for("job-1")
    assert fetch(uri) == (400, {"code": "InvalidIdInRequest", "message": "CredentialsV2Request: Credentials not found"})


def test_a_role_not_yet_assumable_is_an_error_until_it_is(
    endpoint: ContainerCredentialsEndpoint, issuer: Issuer
) -> None:
    issuer.assumable = False
    uri = endpoint.open_for("job-2", ROLE)[FULL_URI_VAR]

    status, body = fetch(uri)
    assert (status, body["code"]) == (500, "AccessDenied")
    assert "not yet assumable" in body["message"]

    issuer.assumable = True
    status, body = fetch(uri)
    assert status == 200 and body["AccessKeyId"].startswith("ASIA")
