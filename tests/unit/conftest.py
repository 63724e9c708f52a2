"""Unit tests use moto in this process (mock_aws), never the session's local backend."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _no_local_backend_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    # A local backend started earlier in the session points every client at its server (and checks IAM
    # there); in-process mocks must not send their requests to it.
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
