"""Copy a job's CloudWatch log stream to S3, page by page, in bounded memory.

While copying, keep the last lines (for the notice) and note what explains a failure:
the rule snakemake says failed, and signs of running out of memory. Memory stays bounded
whatever the log's length: one page of events, one multipart part and the tail.
"""

from __future__ import annotations

import re
from collections import deque
from typing import TYPE_CHECKING, Any, NamedTuple

from botocore.exceptions import ClientError
from pydantic import BaseModel

from nsclient_common.layout import DEFAULT_LOG_GROUP
from nsclient_common.payloads import cut_line
from nsclient_common.s3errors import error_code, is_missing
from nsclient_common.s3io import MultipartWriter
from nsclient_common.usage import USAGE_MARKER

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence

TAIL_LINES = 40
TAIL_BYTES = 64 * 1024  # enough for TAIL_LINES of an archived log and the entrypoint's lines after them
_FAILED_RULE = re.compile(r"^[ \t]*Error in rule (?P<rule>[A-Za-z_][A-Za-z0-9_]*):", re.MULTILINE)
# The failed rule's own exit status, as snakemake reports its command's CalledProcessError before
# "Error in rule": snakemake itself then exits 1 whatever the rule's status was.
_RULE_EXIT = re.compile(r"returned non-zero exit status (?P<status>\d+)")
# What the image's entrypoint prints after the build's command has exited (its measuring line comes
# first): tracing, zip's list of the results and the upload. The notice's tail leaves these out so that
# its lines end with the build's own; any other line after the command (a failed upload) is kept.
_RETURN_CHATTER = re.compile(r"^(\+ |\s*(adding|updating|deleting): |upload: )")
# Signs of running out of memory; plain substrings, searched a page at a time ("ut of memory": Out or out).
_OOM_MARKERS = ("MemoryError", "ut of memory", "std::bad_alloc", "Cannot allocate memory", "oom-kill")


class LogSummary(BaseModel):
    log_key: str
    lines: int = 0
    bytes: int = 0
    tail: list[str] = []
    failed_rule: str | None = None
    rule_exit_code: int | None = None  # the failed rule's command's own exit status
    memory_error: bool = False
    stream_found: bool = False


class LogTail:
    """The last TAIL_LINES lines of the build's own output, for the notice, each cut to TAIL_LINE_BYTES: the
    tail is passed between states, whose data AWS limits (a build may print lines of any length)."""

    def __init__(self) -> None:
        self._lines: deque[str] = deque(maxlen=TAIL_LINES)
        self._command_ended = False

    def feed(self, lines: Sequence[str]) -> None:
        for line in lines:
            if line.startswith(USAGE_MARKER):
                self._command_ended = True
            elif not (self._command_ended and _RETURN_CHATTER.match(line)):
                self._lines.append(cut_line(line))

    def clear(self) -> None:
        self._lines.clear()
        self._command_ended = False

    @property
    def lines(self) -> list[str]:
        return list(self._lines)


class LogSource(NamedTuple):
    """One job's log stream (None: the job never started) in its group, and a heading to put before it."""

    stream: str | None
    heading: str = ""
    group: str = DEFAULT_LOG_GROUP


def iter_log_pages(logs: Any, group: str, stream: str) -> Iterator[list[str]]:
    """Yield a stream's messages page by page from the start, following forward tokens to the end."""
    token: str | None = None
    while True:
        kwargs: dict[str, Any] = {"logGroupName": group, "logStreamName": stream, "startFromHead": True}
        if token:
            kwargs["nextToken"] = token
        page = logs.get_log_events(**kwargs)
        if events := page.get("events", []):
            yield [event["message"] for event in events]
        # The end is the token it was given coming back: a page can be empty before the end of a stream
        # (events spread over time), so an empty page with a new token means keep reading.
        next_token = page.get("nextForwardToken")
        if not next_token or next_token == token:
            return
        token = next_token


def archive_log(
    logs: Any,
    s3: Any,
    *,
    bucket: str,
    group: str = DEFAULT_LOG_GROUP,
    key: str,
    stream: str | None = None,
    sources: Sequence[LogSource] = (),
    preface: str = "",
    read_along: Callable[[Iterable[str]], None] | None = None,
) -> LogSummary:
    """Write the log of `stream` in `group` (or of each of `sources`, in order) to s3://bucket/key.

    The summary's tail, failed rule and memory error describe the last source: that job's
    outcome is the run's. Work is done a page (up to 10,000 events) at a time. `read_along` is
    given each line written, split and decoded as reading the archived log back splits them.
    """
    lines, found = 0, False
    failed_rule: str | None = None
    rule_exit: int | None = None
    memory_error = False
    tail = LogTail()
    with MultipartWriter(s3, bucket, key) as out:

        def write(data: bytes) -> None:
            out.write(data)
            if read_along is not None:
                read_along(raw.decode("utf-8", "replace") for raw in data.splitlines())

        if preface:
            write(preface.encode())
        for source in sources or (LogSource(stream, group=group),):
            failed_rule, rule_exit, memory_error = None, None, False
            seen_exit: int | None = None
            tail.clear()
            if source.heading:
                write(f"{source.heading}\n".encode())
            if not source.stream:
                write(b"(the job never started, so it wrote no log)\n")
                continue
            try:
                for page in iter_log_pages(logs, source.group, source.stream):
                    found = True
                    page_lines = [message.rstrip("\n") for message in page]
                    text = "\n".join(page_lines) + "\n"
                    write(text.encode("utf-8", "replace"))
                    lines += len(page_lines)
                    tail.feed(page_lines)
                    if failed_rule is None and "Error in rule " in text and (match := _FAILED_RULE.search(text)):
                        failed_rule = match["rule"]
                        before = [int(m["status"]) for m in _RULE_EXIT.finditer(text, 0, match.start())]
                        rule_exit = before[-1] if before else seen_exit
                    elif failed_rule is None and (statuses := _RULE_EXIT.findall(text)):
                        seen_exit = int(statuses[-1])
                    memory_error = memory_error or any(marker in text for marker in _OOM_MARKERS)
            except logs.exceptions.ResourceNotFoundException:
                write(f"(the job's log stream {source.stream} no longer exists)\n".encode())
        written = out.bytes_written
    return LogSummary(
        log_key=key,
        lines=lines,
        bytes=written,
        tail=tail.lines,
        failed_rule=failed_rule,
        rule_exit_code=rule_exit,
        memory_error=memory_error,
        stream_found=found,
    )


def read_log_tail(s3: Any, bucket: str, key: str, lines: int = TAIL_LINES) -> list[str]:
    """The last lines of an archived log (one ranged GET), or [] if there is none."""
    try:
        response = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes=-{TAIL_BYTES}")
    except ClientError as error:  # an empty object answers InvalidRange
        if is_missing(error) or error_code(error) == "InvalidRange":
            return []
        raise
    text = response["Body"].read().decode("utf-8", "replace").splitlines()
    # "bytes 1234-17617/17618": a range that starts past 0 cut the first line.
    if not str(response.get("ContentRange", "bytes 0-")).startswith("bytes 0-"):
        text = text[1:]
    tail = LogTail()
    tail.feed(text)
    return tail.lines[-lines:]
