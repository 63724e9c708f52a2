"""Fixtures for the client tests: a user's machine pointed at the session's local backend, and a
bucket no run starts from (for pushes that only check what is uploaded)."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import pytest

from tests.client.helpers import Cli, aws_machine

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from tests.support import Backend


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[Cli]:
    """A machine with no config and no local backend running."""
    machine = Cli(tmp_path / "nextstrain-home")
    yield machine
    machine.stop_strays()


@pytest.fixture
def local_cli(local_backend: Backend, tmp_path: Path) -> Iterator[Cli]:
    """A machine whose running local backend is the test's."""
    machine = Cli(tmp_path / "nextstrain-home").point_at(local_backend)
    yield machine
    machine.stop_strays()


@pytest.fixture(scope="session")
def quiet_bucket(local_backend: Backend) -> str:
    """A bucket in the local backend's moto without upload events: pushing there starts nothing."""
    name = f"nsclient-client-tests-{uuid.uuid4().hex[:8]}"
    local_backend.client("s3").create_bucket(Bucket=name)
    return name


@pytest.fixture
def quiet_cli(local_backend: Backend, quiet_bucket: str, tmp_path: Path) -> Cli:
    """A machine configured for the aws backend kind, whose bucket is the quiet one. The quiet bucket
    is not the stack's, so the users' policy does not reach it: this machine has the account admin's keys."""
    return aws_machine(tmp_path / "nextstrain-home", local_backend, local_backend.admin, bucket=quiet_bucket)
