"""Copy a job's CloudWatch log stream to S3, page by page, in bounded memory.

While copying, keep the last lines (for the notice) and note what explains a failure:
the rule snakemake says failed, and signs of running out of memory.
"""

from __future__ import annotations

import re
from collections import deque
from typing import Any

from pydantic import BaseModel

from nsclient_common.s3io import MultipartWriter

TAIL_LINES = 30
_FAILED_RULE = re.compile(r"^\s*Error in rule (?P<rule>[A-Za-z_][A-Za-z0-9_]*):")
_OOM = re.compile(r"MemoryError|[Oo]ut of memory|std::bad_alloc|Cannot allocate memory|oom-kill")


class LogSummary(BaseModel):
    log_key: str
    lines: int = 0
    bytes: int = 0
    tail: list[str] = []
    failed_rule: str | None = None
    memory_error: bool = False
    stream_found: bool = False


def iter_log_messages(logs: Any, group: str, stream: str) -> Any:
    """Yield every message of a stream from the start, following forward tokens to the end."""
    token: str | None = None
    while True:
        kwargs: dict[str, Any] = {"logGroupName": group, "logStreamName": stream, "startFromHead": True}
        if token:
            kwargs["nextToken"] = token
        page = logs.get_log_events(**kwargs)
        for event in page.get("events", []):
            yield event["message"]
        # The API signals the end by returning the token it was given.
        next_token = page.get("nextForwardToken")
        if not page.get("events") or next_token == token or not next_token:
            return
        token = next_token


def archive_log(
    logs: Any, s3: Any, *, group: str, stream: str | None, bucket: str, key: str, preface: str = ""
) -> LogSummary:
    summary = LogSummary(log_key=key)
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    with MultipartWriter(s3, bucket, key) as out:
        if preface:
            out.write(preface.encode())
        if stream:
            try:
                for message in iter_log_messages(logs, group, stream):
                    summary.stream_found = True
                    line = message.rstrip("\n")
                    out.write(line.encode("utf-8", "replace") + b"\n")
                    summary.lines += 1
                    tail.append(line)
                    if summary.failed_rule is None and (match := _FAILED_RULE.match(line)):
                        summary.failed_rule = match["rule"]
                    if not summary.memory_error and _OOM.search(line):
                        summary.memory_error = True
            except logs.exceptions.ResourceNotFoundException:
                out.write(f"(the job's log stream {stream} no longer exists)\n".encode())
        else:
            out.write(b"(the job never started, so it wrote no log)\n")
        summary.bytes = out.bytes_written
    summary.tail = list(tail)
    return summary
