"""A run's log: the archived copy once it has ended, the job's live CloudWatch stream while it runs.

Followed, the stream is read until the run ends; when a Spot reclaim's rerun starts, the view moves
on to the new job's stream.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from nsclient.runs.records import is_missing
from nsclient_common.describedjob import log_group_of
from nsclient_common.layout import log_key
from nsclient_common.snakeprogress import SnakemakeProgress

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from nsclient.backend import Backend
    from nsclient.runs.jobs import RunState
    from nsclient_common.record import RunRecord


UNREADABLE_LIVE_LOG = (
    "===== nsclient: your credentials may not read this job's live log (a role session's jobs' streams cannot be "
    "named in IAM); the whole log is shown once the run ends ====="
)


def archived_log(backend: Backend, run_id: str, owner: str | None) -> Iterator[str]:
    try:
        body = backend.client("s3").get_object(Bucket=backend.bucket, Key=log_key(run_id, owner))["Body"]
    except ClientError as error:
        if is_missing(error):
            return
        raise
    for line in body.iter_lines():
        yield line.decode("utf-8", "replace")


class LiveStream:
    """One job's log stream, read on from where the last read stopped."""

    def __init__(self, logs: Any, job: dict[str, Any]):
        self.logs = logs
        self.job_id: str = job["jobId"]
        self.queue = str(job.get("jobQueue", "")).rsplit("/", 1)[-1]
        self.group = log_group_of(job)
        self.stream: str = job["container"]["logStreamName"]
        self.token: str | None = None
        # IAM lets a person read only the live streams of their own jobs, and only when it can name them: a
        # role session's cannot be (nsclient_common.jobdefinition). Such a run's log is read once archived.
        self.readable = True

    def _page(self) -> tuple[list[str], bool]:
        """The next page's lines, and whether the read moved on."""
        kwargs: dict[str, Any] = {"logGroupName": self.group, "logStreamName": self.stream, "startFromHead": True}
        if self.token:
            kwargs["nextToken"] = self.token
        try:
            page = self.logs.get_log_events(**kwargs)
        except self.logs.exceptions.ResourceNotFoundException:
            return [], False
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") not in ("AccessDeniedException", "AccessDenied"):
                raise
            self.readable = False
            return [UNREADABLE_LIVE_LOG], False
        lines = [event["message"] for event in page.get("events", [])]
        token = page.get("nextForwardToken") or self.token
        moved, self.token = token != self.token, token
        return lines, moved

    def drain(self) -> Iterator[str]:
        """Every line available now (a page may come back empty before the end; the next read goes on)."""
        while self.readable:
            lines, moved = self._page()
            yield from lines
            if not lines or not moved:
                return


def _newer_job(job: dict[str, Any] | None, live: LiveStream | None) -> dict[str, Any] | None:
    """The job, if it has a log stream and is not the one being read."""
    if job is None or not job.get("container", {}).get("logStreamName"):
        return None
    return job if live is None or live.job_id != job["jobId"] else None


def live_progress(state: RunState) -> SnakemakeProgress | None:
    """How far a running build has got, from its job's log so far; None before the job has a log."""
    job = _newer_job(state.job, None)
    if state.is_final or job is None:
        return None
    progress = SnakemakeProgress()
    for line in LiveStream(state.backend.client("logs"), job).drain():
        progress.feed(line)
    return progress


def log_lines(
    state: RunState,
    *,
    follow: bool,
    poll: float = 1.0,
    on_update: Callable[[RunRecord], None] | None = None,
) -> Iterator[str]:
    """The archived log of a finished run; the live stream of a running one (to the run's end with
    follow). on_update sees the run's record each time it is read."""
    backend = state.backend
    record = state.record or state.update()
    if on_update:
        on_update(record)
    if record.status.is_final:
        yield from archived_log(backend, state.run_id, record.owner)
        return
    logs = backend.client("logs")
    live: LiveStream | None = None
    while True:
        newer = _newer_job(state.job, live)
        if newer is not None:
            rerun = live is not None
            if live is not None:  # a Spot reclaim's rerun: the rest of the first job's log, then the new one's
                yield from live.drain()
            live = LiveStream(logs, newer)
            if rerun:
                yield f"===== nsclient: the build runs again, as job {live.job_id} on queue {live.queue} ====="
        if live is not None:
            yield from live.drain()
        if not follow:
            return
        record = state.update()
        if on_update:
            on_update(record)
        if record.status.is_final:
            if live is not None and live.readable:
                yield from live.drain()
            else:
                yield from archived_log(backend, state.run_id, record.owner)
            return
        time.sleep(poll)
