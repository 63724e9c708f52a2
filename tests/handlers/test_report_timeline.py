"""The run report reads the log once: CollectLogs stores the build's timeline beside the log as it archives
it, and FinalizeRun's report reads that instead of the log; a run without one is reported from the log."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from nsclient_common import aws
from nsclient_common.layout import log_key, report_html_key, report_json_key, timeline_key
from nsclient_common.record import RunRecord, RunStatus, utc_now
from nsclient_common.reportstore import write_report
from nsclient_common.runstore import read_record, write_record
from tests.handlers.conftest import OWNER, RUN_ID, LambdaContext, Stack, event, handler

# The failed build of the sample events (its job ran 07:00:10 to 07:01:10): a and b side by side, c reading
# a's output still running when b failed, and the job's measuring line (CloudWatch keeps no empty line).
BUILD_LOG = [
    "Building DAG of jobs...",
    "[Mon Nov 25 07:00:20 2024]",
    "rule a:",
    "    output: out/a.txt",
    "    jobid: 2",
    "    threads: 2",
    "[Mon Nov 25 07:00:21 2024]",
    "rule b:",
    "    output: out/b.txt",
    "    jobid: 3",
    "[Mon Nov 25 07:00:30 2024]",
    "Finished jobid: 2 (Rule: a)",
    "[Mon Nov 25 07:00:31 2024]",
    "rule c:",
    "    input: out/a.txt",
    "    output: out/c.txt",
    "    jobid: 1",
    "[Mon Nov 25 07:00:40 2024]",
    "Error in rule b:",
    "    jobid: 3",
    "nsclient-usage: cgroup=v2 wall_s=60 cpu_s=42 peak_cpus_milli=1800 peak_memory_bytes=1610612736",
]


def collect_logs(stack: Stack) -> dict[str, Any]:
    state = event("collect_logs/job_failed")
    failed = state["errors"]["SubmitBuildJob"]
    sample = json.loads(failed["Cause"])["Container"]["LogStreamName"]
    stream = f"{sample}-{stack.bucket}"  # the job log group is the process's, shared by every test
    failed["Cause"] = failed["Cause"].replace(sample, stream)
    stack.logs.create_log_stream(logGroupName="/aws/batch/job", logStreamName=stream)
    stack.logs.put_log_events(
        logGroupName="/aws/batch/job",
        logStreamName=stream,
        logEvents=[{"timestamp": int(time.time() * 1000) + n, "message": line} for n, line in enumerate(BUILD_LOG)],
    )
    output: dict[str, Any] = handler("collect_logs").lambda_handler(state, LambdaContext("CollectLogsFunction"))
    return output


@contextmanager
def keys_read(stack: Stack) -> Iterator[list[str]]:
    """The keys the functions' S3 client GETs meanwhile."""
    keys: list[str] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        keys.append(params["Key"])

    s3 = aws.client("s3")  # the client the handlers use (one per endpoint and region)
    s3.meta.events.register("before-parameter-build.s3.GetObject", record)
    try:
        yield keys
    finally:
        s3.meta.events.unregister("before-parameter-build.s3.GetObject", record)


def finalize(stack: Stack, collected: dict[str, Any]) -> tuple[list[str], bytes, bytes]:
    """FinalizeRun given CollectLogs' output, for a run still SUBMITTED: the keys it read, and the report."""
    submitted = RunRecord(run_id=RUN_ID, status=RunStatus.SUBMITTED, submitted_at=utc_now(), owner=OWNER)
    write_record(stack.s3, stack.bucket, submitted.model_copy(update={"cpus": 4, "memory_mib": 4096}))
    state = event("finalize_run/job_failed_logs_collected")
    state["results"]["CollectLogs"] = collected
    with keys_read(stack) as keys:
        handler("finalize_run").lambda_handler(state, LambdaContext("FinalizeRunFunction"))
    report = [
        stack.s3.get_object(Bucket=stack.bucket, Key=key)["Body"].read()
        for key in (report_json_key(RUN_ID, OWNER), report_html_key(RUN_ID, OWNER))
    ]
    return keys, report[0], report[1]


def assert_reports_the_build(report_json: bytes, report_html: bytes) -> None:
    report = json.loads(report_json)
    assert [(bar["rule"], bar["seconds"], bar["failed"], bar["finished"]) for bar in report["jobs"]] == [
        ("a", 10.0, False, True),
        ("b", 19.0, True, True),
        ("c", 39.0, False, False),  # still running when the job stopped at 07:01:10
    ]
    assert (report["critical_path"], report["critical_path_seconds"]) == (["a", "c"], 49.0)
    assert report["usage"]["peak_memory_bytes"] == 1610612736 and report["most_jobs_at_once"] == 2
    assert "peaked at 1.5 GiB" in report["advice"] and b"peaked at 1.5 GiB" in report_html


def test_finalize_reports_from_the_stored_timeline_without_reading_the_log(stack: Stack) -> None:
    collected = collect_logs(stack)
    stored = stack.s3.get_object(Bucket=stack.bucket, Key=timeline_key(RUN_ID, OWNER))["Body"].read()
    assert [job["rule"] for job in json.loads(stored)["jobs"]] == ["a", "b", "c"]
    assert "timeline" not in json.dumps(collected)  # beside the log, not in the state the machine passes on

    keys, report_json, report_html = finalize(stack, collected)

    assert timeline_key(RUN_ID, OWNER) in keys and log_key(RUN_ID, OWNER) not in keys
    assert_reports_the_build(report_json, report_html)


def test_finalize_reports_a_run_without_a_stored_timeline_from_its_log(stack: Stack) -> None:
    collected = collect_logs(stack)
    # As for a log archived before timelines were stored beside it.
    stack.s3.delete_object(Bucket=stack.bucket, Key=timeline_key(RUN_ID, OWNER))

    keys, report_json, report_html = finalize(stack, collected)

    assert log_key(RUN_ID, OWNER) in keys
    assert_reports_the_build(report_json, report_html)


@pytest.mark.parametrize("timeline", ["missing", "unreadable"])
def test_the_report_from_the_stored_timeline_is_the_report_from_the_log(stack: Stack, timeline: str) -> None:
    finalize(stack, collect_logs(stack))
    record = read_record(stack.s3, stack.bucket, RUN_ID, OWNER)

    def report() -> tuple[list[str], bytes, bytes]:
        with keys_read(stack) as keys:
            write_report(aws.client("s3"), stack.bucket, record)
        body = [
            stack.s3.get_object(Bucket=stack.bucket, Key=key)["Body"].read()
            for key in (report_json_key(RUN_ID, OWNER), report_html_key(RUN_ID, OWNER))
        ]
        return keys, body[0], body[1]

    stored_keys, *from_timeline = report()
    if timeline == "missing":
        stack.s3.delete_object(Bucket=stack.bucket, Key=timeline_key(RUN_ID, OWNER))
    else:  # one written by another version, say
        stack.s3.put_object(Bucket=stack.bucket, Key=timeline_key(RUN_ID, OWNER), Body=b'{"jobs": "not a list"}')
    log_keys, *from_log = report()

    assert log_key(RUN_ID, OWNER) not in stored_keys and log_key(RUN_ID, OWNER) in log_keys
    assert from_log == from_timeline
    assert_reports_the_build(*from_log)
