"""Reading and writing run records and the once-only notice marker in the builds bucket."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from nsclient_common.layout import notice_key, record_key
from nsclient_common.record import RunRecord
from nsclient_common.runindex import begun_key, since_key, summary_key
from nsclient_common.s3errors import error_code, is_missing


class RunNotFound(Exception):
    pass


def read_record(s3: Any, bucket: str, run_id: str, owner: str | None) -> RunRecord:
    try:
        body = s3.get_object(Bucket=bucket, Key=record_key(run_id, owner))["Body"].read()
    except ClientError as error:
        if is_missing(error):
            raise RunNotFound(run_id) from None
        raise
    return RunRecord.from_json(body)


def find_record(s3: Any, bucket: str, run_id: str, owner: str | None) -> RunRecord | None:
    try:
        return read_record(s3, bucket, run_id, owner)
    except RunNotFound:
        return None


def _create_once(s3: Any, bucket: str, key: str, body: bytes, content_type: str) -> bool:
    """A conditional create: False if the key exists already."""
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type, IfNoneMatch="*")
    except ClientError as error:
        if error_code(error) in ("PreconditionFailed", "ConditionalRequestConflict", "412"):
            return False
        raise
    return True


def write_record(s3: Any, bucket: str, record: RunRecord) -> None:
    """The record, then its summary in the run index (runindex), which listings read instead of records;
    before the owner's first summary, the marker of when their index began."""
    s3.put_object(
        Bucket=bucket,
        Key=record_key(record.run_id, record.owner),
        Body=record.to_json(),
        ContentType="application/json",
    )
    now = datetime.now(UTC)
    if _create_once(s3, bucket, begun_key(record.owner), b"", "binary/octet-stream"):
        s3.put_object(Bucket=bucket, Key=since_key(record.owner, now), Body=b"")
    s3.put_object(Bucket=bucket, Key=summary_key(record), Body=b"")


def claim_notice(s3: Any, bucket: str, run_id: str, owner: str | None, notice: dict[str, Any]) -> bool:
    """Record that the notice for a run is being sent; False if it already was.

    A conditional create, so two paths (the state machine and the backstop rule) racing to
    notify still send one notice.
    """
    return _create_once(
        s3, bucket, notice_key(run_id, owner), json.dumps(notice, indent=2).encode(), "application/json"
    )


def read_notice_marker(s3: Any, bucket: str, run_id: str, owner: str | None) -> tuple[dict[str, Any], datetime] | None:
    """The run's notice marker and when it was last written, or None if no notice was claimed."""
    try:
        response = s3.get_object(Bucket=bucket, Key=notice_key(run_id, owner))
    except ClientError as error:
        if is_missing(error):
            return None
        raise
    marker: dict[str, Any] = json.loads(response["Body"].read())
    return marker, response["LastModified"]


def notice_sent(s3: Any, bucket: str, run_id: str, owner: str | None) -> bool:
    marker = read_notice_marker(s3, bucket, run_id, owner)
    return marker is not None and marker[0].get("state") == "sent"
