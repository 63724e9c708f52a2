"""Writing a run's report next to its record: read the build's timeline (stored beside the log as it was
archived, or else read from the archived log a line at a time), build the report, and put report.json and
report.html in the run's folder."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError
from pydantic import ValidationError

from nsclient_common.display import build_name_of
from nsclient_common.layout import (
    log_key,
    report_html_key,
    report_json_key,
    s3_url,
    timeline_key,
    workdir_key,
)
from nsclient_common.report import RunReport, build_report
from nsclient_common.report_html import render_html
from nsclient_common.s3errors import is_missing
from nsclient_common.snakebenchmarks import read_benchmarks
from nsclient_common.timeline import BuildTimeline, read_timeline

if TYPE_CHECKING:
    from collections.abc import Iterator

    from nsclient_common.record import RunRecord


def _log_lines(s3: Any, bucket: str, record: RunRecord) -> Iterator[str]:
    try:
        body = s3.get_object(Bucket=bucket, Key=log_key(record.run_id, record.owner))["Body"]
    except ClientError as error:
        if is_missing(error):
            return
        raise
    for raw in body.iter_lines():
        yield raw.decode("utf-8", "replace")


def write_timeline(s3: Any, bucket: str, run_id: str, owner: str | None, timeline: BuildTimeline) -> None:
    s3.put_object(
        Bucket=bucket,
        Key=timeline_key(run_id, owner),
        Body=timeline.model_dump_json(exclude_defaults=True).encode(),
        ContentType="application/json",
    )


def _timeline(s3: Any, bucket: str, record: RunRecord) -> BuildTimeline:
    """The timeline stored as the log was archived (one small GET); without one (a log archived before
    timelines were stored, or one unreadable) the same reader reads the archived log itself."""
    try:
        stored = s3.get_object(Bucket=bucket, Key=timeline_key(record.run_id, record.owner))["Body"].read()
        return BuildTimeline.model_validate_json(stored)
    except ClientError as error:
        if not is_missing(error):
            raise
    except ValidationError:
        pass
    return read_timeline(_log_lines(s3, bucket, record))


def write_report(s3: Any, bucket: str, record: RunRecord) -> RunRecord:
    """The record with report_url set, once report.json and report.html are written; a run whose job
    never started has nothing to report and is returned as it is."""
    if not record.started_at:
        return record
    name = build_name_of(record)
    results = workdir_key(record.run_id, record.owner)
    report: RunReport = build_report(
        record, name, _timeline(s3, bucket, record), lambda wanted: read_benchmarks(s3, bucket, results, wanted)
    )
    s3.put_object(
        Bucket=bucket,
        Key=report_json_key(record.run_id, record.owner),
        Body=report.model_dump_json(indent=2).encode(),
        ContentType="application/json",
    )
    s3.put_object(
        Bucket=bucket,
        Key=report_html_key(record.run_id, record.owner),
        Body=render_html(report).encode(),
        ContentType="text/html; charset=utf-8",
    )
    return record.model_copy(update={"report_url": s3_url(bucket, report_html_key(record.run_id, record.owner))})
