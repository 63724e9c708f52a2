"""A live log stream the caller may not read (a role session's jobs' streams cannot be named in IAM): one
line says so and the read stops there, rather than a traceback; the archived log follows at the run's end."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from nsclient.runs.logs import UNREADABLE_LIVE_LOG, LiveStream


class RefusingLogs:
    class exceptions:  # noqa: N801 (boto3's attribute)
        class ResourceNotFoundException(Exception):
            pass

    def __init__(self) -> None:
        self.calls = 0

    def get_log_events(self, **_: Any) -> dict[str, Any]:
        self.calls += 1
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "not yours"}}, "GetLogEvents")


JOB = {"jobId": "j-1", "jobQueue": "q", "container": {"logStreamName": "nextstrain-job_h0123/default/j-1"}}


def test_an_unreadable_live_stream_says_so_once_and_is_not_read_again() -> None:
    logs = RefusingLogs()
    live = LiveStream(logs, JOB)
    assert list(live.drain()) == [UNREADABLE_LIVE_LOG]
    assert list(live.drain()) == []
    assert logs.calls == 1 and not live.readable


def test_any_other_error_is_not_hidden() -> None:
    class Broken(RefusingLogs):
        def get_log_events(self, **_: Any) -> dict[str, Any]:
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "GetLogEvents")

    with pytest.raises(ClientError):
        list(LiveStream(Broken(), JOB).drain())
