"""Archiving a job's log: paging, what the summary notes, several jobs' logs in one archive, and memory
that stays bounded however long the log (the million-line case against moto is in
tests/pipeline/test_faults.py)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tracemalloc
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody

from nsclient_common import s3io
from nsclient_common.logarchive import TAIL_LINES, LogSource, archive_log, iter_log_pages, read_log_tail

ROOT = Path(__file__).resolve().parents[2]


class ResourceNotFound(Exception):
    pass


class FakeLogs:
    """GetLogEvents over generated streams, with CloudWatch's paging: a forward token per page, and
    the token it was given back at the end. Pages are made on demand, so a stream costs no memory."""

    class exceptions:  # noqa: N801 - the shape of a boto3 client's exceptions attribute
        ResourceNotFoundException = ResourceNotFound

    def __init__(self, streams: dict[str, tuple[int, Any]], page_size: int = 10_000):
        self.streams = streams  # name -> (line count, line(i) -> str)
        self.page_size = page_size
        self.calls = 0

    def get_log_events(self, **kwargs: Any) -> dict[str, Any]:
        self.calls += 1
        if kwargs["logStreamName"] not in self.streams:
            raise ResourceNotFound(kwargs["logStreamName"])
        count, line = self.streams[kwargs["logStreamName"]]
        start = int(kwargs.get("nextToken", "f/0")[2:])
        end = min(count, start + self.page_size)
        events = [{"timestamp": i, "message": line(i)} for i in range(start, end)]
        return {"events": events, "nextForwardToken": f"f/{end}", "nextBackwardToken": f"b/{start}"}


class FakeS3:
    """Records what an archive sends (sizes, and the first and last bytes), keeping none of it."""

    def __init__(self) -> None:
        self.parts: list[int] = []
        self.single: int | None = None
        self.head = b""
        self.last = b""

    def _got(self, body: bytes) -> None:
        if not self.head:
            self.head = body[:200]
        self.last = body[-200:]

    def create_multipart_upload(self, **kwargs: Any) -> dict[str, str]:
        return {"UploadId": "upload-1"}

    def upload_part(self, **kwargs: Any) -> dict[str, str]:
        self.parts.append(len(kwargs["Body"]))
        self._got(kwargs["Body"])
        return {"ETag": f'"{kwargs["PartNumber"]}"'}

    def complete_multipart_upload(self, **kwargs: Any) -> None:
        assert [p["PartNumber"] for p in kwargs["MultipartUpload"]["Parts"]] == list(range(1, len(self.parts) + 1))

    def abort_multipart_upload(self, **kwargs: Any) -> None:
        raise AssertionError("the upload was aborted")

    def put_object(self, **kwargs: Any) -> None:
        self.single = len(kwargs["Body"])
        self._got(kwargs["Body"])


def snakemake_line(i: int) -> str:
    return f"[{i:07d}] rule filter: input data/sequences.fasta, output results/filtered.fasta, threads 4 ok"


def messages(logs: Any) -> list[str]:
    """Every message of stream "s" of group "g", page after page."""
    return [message for page in iter_log_pages(logs, "g", "s") for message in page]


def test_paging_follows_forward_tokens_to_the_end() -> None:
    logs = FakeLogs({"s": (25, str)}, page_size=10)
    assert messages(logs) == [str(i) for i in range(25)]
    assert logs.calls == 4  # three pages, then the page that returns the token it was given


class ScriptedLogs:
    """GetLogEvents answering a fixed list of pages, some empty, as CloudWatch does for a stream whose
    events are spread over time: page i carries the token of page i + 1; past the last page the token
    given comes back."""

    def __init__(self, pages: list[list[str]]):
        self.pages = pages

    def get_log_events(self, **kwargs: Any) -> dict[str, Any]:
        given = kwargs.get("nextToken")
        index = int(given[2:]) if given else 0
        if index >= len(self.pages):
            return {"events": [], "nextForwardToken": given, "nextBackwardToken": "b/0"}
        events = [{"timestamp": index, "message": message} for message in self.pages[index]]
        return {"events": events, "nextForwardToken": f"f/{index + 1}", "nextBackwardToken": f"b/{index}"}


def test_paging_reads_past_empty_pages_until_the_token_stops_changing() -> None:
    logs = ScriptedLogs([[], ["first"], [], [], ["second", "third"], [], ["last"]])
    assert messages(logs) == ["first", "second", "third", "last"]


def test_archive_keeps_the_lines_after_an_empty_page() -> None:
    logs = ScriptedLogs([["Building DAG of jobs..."], [], ["Error in rule align:", "Exiting"]])
    s3 = FakeS3()
    summary = archive_log(logs, s3, group="g", stream="s", bucket="b", key="k")
    assert (summary.lines, summary.failed_rule) == (3, "align")
    assert summary.tail == ["Building DAG of jobs...", "Error in rule align:", "Exiting"]


def test_summary_names_the_failed_rule_and_memory_errors() -> None:
    lines = ["Building DAG of jobs...", "Error in rule align:", "    jobid: 3", "MemoryError", "Exiting"]
    logs = FakeLogs({"s": (len(lines), lines.__getitem__)})
    s3 = FakeS3()
    summary = archive_log(logs, s3, group="g", stream="s", bucket="b", key="k")
    assert (summary.lines, summary.failed_rule, summary.memory_error, summary.stream_found) == (5, "align", True, True)
    assert summary.tail == lines
    assert s3.single == summary.bytes == sum(len(line) + 1 for line in lines)


def test_the_tail_ends_with_the_builds_own_lines_not_the_upload_of_its_results() -> None:
    build = ["Error in rule tree:", "    jobid: 2", "Exiting because a job execution failed."]
    after = [
        "nsclient-usage: cgroup=v2 wall_s=12 cpu_s=3 peak_cpus_milli=2360 peak_memory_bytes=113852416",
        "+ zip -u /nextstrain/build.zip -r . --exclude .snakemake/*",
        "  adding: results/distances.tsv",
        "  updating: results/tree.nwk",
        "upload failed: /nextstrain/build.zip to s3://b/runs/r/workdir.zip An error occurred (AccessDenied)",
        "+ aws s3 cp --no-progress /nextstrain/build.zip s3://b/runs/r/workdir.zip",
        "upload: /nextstrain/build.zip to s3://b/runs/r/workdir.zip",
        "+ exit 1",
    ]
    lines = build + after
    summary = archive_log(FakeLogs({"s": (len(lines), lines.__getitem__)}), FakeS3(), stream="s", bucket="b", key="k")
    # The measuring line and the entrypoint's routine lines are left out; a line out of the ordinary is kept.
    assert summary.tail == [*build, after[4]]
    assert summary.lines == len(lines)


def test_each_job_of_a_retried_run_is_archived_and_the_last_one_summarised() -> None:
    first = ["spot job starting", "Error in rule early:"]
    second = ["on-demand job starting", "done"]
    logs = FakeLogs({"one": (2, first.__getitem__), "two": (2, second.__getitem__)})
    s3 = FakeS3()
    sources = [LogSource("one", "===== attempt 1 ====="), LogSource("two", "===== attempt 2 =====")]
    summary = archive_log(logs, s3, group="g", sources=sources, bucket="b", key="k")
    assert summary.lines == 4
    assert summary.tail == second
    assert summary.failed_rule is None  # the run's outcome is the last job's
    assert s3.head.decode().startswith("===== attempt 1 =====\nspot job starting\n")
    assert s3.last.decode().endswith("===== attempt 2 =====\non-demand job starting\ndone\n")


def test_a_job_without_a_log_is_said_so() -> None:
    s3 = FakeS3()
    summary = archive_log(FakeLogs({}), s3, group="g", stream=None, bucket="b", key="k", preface="(why)\n")
    assert s3.head == b"(why)\n(the job never started, so it wrote no log)\n"
    assert not summary.stream_found
    archive_log(FakeLogs({}), s3, group="g", stream="gone", bucket="b", key="k")
    assert b"no longer exists" in s3.head or b"no longer exists" in s3.last


PART = 1024 * 1024  # S3 wants 5 MiB parts or more; the fake does not, and small parts keep the bound small
LONG_LOG_LINES = 200_000  # about 20 MB of ~100-byte lines


def archive_long_log() -> dict[str, Any]:
    """Archive the long log into the fake S3, with memory traced; what the test checks."""
    s3io.PART_SIZE = PART
    logs = FakeLogs({"s": (LONG_LOG_LINES, snakemake_line)}, page_size=2000)
    s3 = FakeS3()
    tracemalloc.start()
    summary = archive_log(logs, s3, group="g", stream="s", bucket="b", key="k")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"peak": peak, "parts": s3.parts, "summary": summary.model_dump()}


def test_a_long_log_is_streamed_in_parts_in_bounded_memory() -> None:
    # In a process of its own: tracemalloc counts every thread's allocations, and in this one the local
    # backend (a moto server, runs in progress) may be busy
    code = "import json, tests.unit.test_logarchive as t; print(json.dumps(t.archive_long_log()))"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    result = json.loads(done.stdout.splitlines()[-1])
    summary, parts, peak = result["summary"], result["parts"], result["peak"]
    total = sum(len(snakemake_line(i)) + 1 for i in range(LONG_LOG_LINES))
    assert (summary["lines"], summary["bytes"]) == (LONG_LOG_LINES, total)
    # Pages are written whole: a part is PART_SIZE and at most one page more
    assert sum(parts) == total and len(parts) >= 10
    assert all(PART <= size <= PART + 2000 * 110 for size in parts[:-1])
    assert summary["tail"][-1] == snakemake_line(LONG_LOG_LINES - 1) and len(summary["tail"]) == TAIL_LINES
    # A page of events (and its text), a part being sent (and its copy), the tail: not the log
    assert peak < 5 * PART < total / 3, f"peak {peak} bytes for a {total}-byte log"


BUCKET = "nsclient-unit-logarchive"


@pytest.fixture
def s3(moto_account: str) -> Any:
    """A client and a bucket in the test's own moto account."""
    client = boto3.client("s3", region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    return client


def test_read_log_tail(s3: Any) -> None:
    assert read_log_tail(s3, BUCKET, "missing.log") == []
    s3.put_object(Bucket=BUCKET, Key="short.log", Body=b"one\ntwo\n")
    assert read_log_tail(s3, BUCKET, "short.log") == ["one", "two"]
    s3.put_object(Bucket=BUCKET, Key="empty.log", Body=b"")
    assert read_log_tail(s3, BUCKET, "empty.log") == []
    s3.put_object(Bucket=BUCKET, Key="long.log", Body="".join(f"line {i}\n" for i in range(100_000)).encode())
    assert read_log_tail(s3, BUCKET, "long.log") == [f"line {i}" for i in range(100_000 - TAIL_LINES, 100_000)]


class KeepingS3(FakeS3):
    """FakeS3 that keeps what a small archive sends."""

    def __init__(self) -> None:
        super().__init__()
        self.body = b""

    def _got(self, body: bytes) -> None:
        super()._got(body)
        self.body += body


def test_the_lines_read_along_are_the_lines_the_archived_log_reads_back() -> None:
    # Carriage returns of progress bars, a message of two lines and text beyond ASCII among them.
    first = ["spot job starting", "50%\r100%", "two\nlines", "Zürich → Genève"]
    second = ["on-demand job starting", "\rdone\r"]
    logs = FakeLogs({"one": (len(first), first.__getitem__), "two": (len(second), second.__getitem__)})
    s3 = KeepingS3()
    read: list[str] = []
    sources = [LogSource("one", "===== attempt 1 ====="), LogSource("two", "===== attempt 2 =====")]
    archive_log(logs, s3, group="g", sources=sources, bucket="b", key="k", preface="(why)\n", read_along=read.extend)
    archived = StreamingBody(io.BytesIO(s3.body), len(s3.body))
    assert read == [raw.decode("utf-8", "replace") for raw in archived.iter_lines()]
    assert "100%" in read and "lines" in read
