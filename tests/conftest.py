"""Fixtures: fake AWS credentials everywhere, and one local backend (moto server with the
stack from template.yaml, executing the real state machine) shared by the pipeline tests.

The backend authorizes every request as AWS would (strict IAM): each function, the state machine,
the job and the client call as their own principal with the template's policies."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.faults import JobFaults
from tests.moto_accounts import own_account
from tests.support import NOTIFY_ALLOWED, NOTIFY_FROM, ON_DEMAND_QUEUE, Backend

if TYPE_CHECKING:
    from nsclient.local.daemon import LocalBackend
    from nsclient.local.runtime import LocalRuntime

ROOT = Path(__file__).resolve().parents[1]


# What a test's fixtures shared with the rest of its module (or class) hold: a module's builds launched side
# by side, a machine its tests take turns on.
SHARED_SCOPES = ("module", "class", "package")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test on the local backend is `slow`, whether or not it says so. Under pytest-xdist
    (--dist loadgroup), a module whose tests share a module-scoped fixture runs on one worker, which sets
    the fixture up once; the other tests go to whichever worker is free."""
    for item in items:
        if "local_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)
        info = getattr(item, "_fixtureinfo", None)
        definitions = [d for ds in info.name2fixturedefs.values() for d in ds] if info is not None else []
        if any(definition.scope in SHARED_SCOPES for definition in definitions):
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::", 1)[0]))


@pytest.fixture(autouse=True, scope="session")
def aws_credentials() -> None:
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "POWERTOOLS_SERVICE_NAME": "nsclient",
            "POWERTOOLS_TRACE_DISABLED": "true",
        }
    )


@pytest.fixture
def moto_account(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """moto in this process for this test, in a fresh AWS account of its own (the id): clients made with
    boto3 as usual, without an endpoint, reach it. Never `with mock_aws()`: that resets every moto backend
    of the process, the local backend's included."""
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)  # a local backend started earlier points clients at it
    with own_account() as account:
        yield account


@pytest.fixture(scope="session")
def local_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalBackend]:
    """The local backend, in this process. Limits are lowered so that limit tests stay small;
    a job asking for more than 8 cpus waits RUNNABLE (as with too small a compute environment)
    and is cancelled after 3 s. Notices are emailed through SES from NOTIFY_FROM, verified as a
    deployment's sender must be."""
    from nsclient.local.daemon import LocalBackend

    backend = LocalBackend(
        tmp_path_factory.mktemp("local-backend"),
        parameters={"NotifyFrom": NOTIFY_FROM, "OnDemandJobQueue": ON_DEMAND_QUEUE, "NotifyAllowed": NOTIFY_ALLOWED},
        strict_iam=True,
    )
    info = backend.start()
    Backend(info, backend.admin_credentials).client("ses").verify_email_identity(EmailAddress=NOTIFY_FROM)
    backend.runtime.batch.max_vcpus = 8
    backend.runtime.batch.runnable_timeout_seconds = 3
    yield backend
    backend.stop()


@pytest.fixture(scope="session")
def local_backend(local_server: LocalBackend) -> Backend:
    """Clients for the local backend, as its administrator looking on."""
    assert local_server.info is not None
    return Backend(local_server.info, local_server.admin_credentials)


@pytest.fixture(scope="session")
def local_runtime(local_server: LocalBackend) -> LocalRuntime:
    """What runs the local backend's functions and jobs (to spy on a handler, or change its environment)."""
    return local_server.runtime


@pytest.fixture(scope="session")
def job_faults(local_runtime: LocalRuntime) -> JobFaults:
    """The faults the local backend's Batch inflicts on the jobs they match (none until a test adds some)."""
    faults = JobFaults()
    local_runtime.batch.disruptions.append(faults)
    return faults
