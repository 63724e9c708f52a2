"""Fixtures: fake AWS credentials everywhere, and one local backend (moto server with the
stack from template.yaml, executing the real state machine) shared by the pipeline tests.

The backend authorizes every request as AWS would (strict IAM): each function, the state machine,
the job and the client call as their own principal with the template's policies."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import NOTIFY_FROM, ON_DEMAND_QUEUE, Backend

ROOT = Path(__file__).resolve().parents[1]


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


@pytest.fixture(scope="session")
def local_backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    """The local backend, in this process. Limits are lowered so that limit tests stay small;
    a job asking for more than 8 cpus waits RUNNABLE (as with too small a compute environment)
    and is cancelled after 3 s. Notices are emailed through SES from NOTIFY_FROM, verified as a
    deployment's sender must be."""
    from nsclient.local import moto_patches
    from nsclient.local.daemon import LocalBackend

    backend = LocalBackend(
        tmp_path_factory.mktemp("local-backend"),
        parameters={"NotifyFrom": NOTIFY_FROM, "OnDemandJobQueue": ON_DEMAND_QUEUE},
        strict_iam=True,
    )
    info = backend.start()
    looking_on = Backend(info, backend.admin_credentials)
    looking_on.client("ses").verify_email_identity(EmailAddress=NOTIFY_FROM)
    assert moto_patches.JOB_RUNTIME is not None
    moto_patches.JOB_RUNTIME.max_vcpus = 8
    moto_patches.JOB_RUNTIME.runnable_timeout_seconds = 3
    yield looking_on
    backend.stop()
