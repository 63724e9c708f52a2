"""The run index: what a listing of runs shows, readable from the listing itself.

Each time the backend writes a run record it also writes an empty object beside the run's folder whose
name carries the record's summary:

    runs/<owner>/<run-id>.<stage>.<summary>     stage: how far along the run is (RunStatus.stage)

The summary is SUMMARY_FIELDS in order, joined by `_`: times as 20261205T031500Z, absent values empty,
the submitter last, as base64url of at most SUBMITTER_BYTES bytes. The name stays within 255 bytes, so a
copy of the bucket on a disk (`aws s3 sync`, the local backend's) can hold it as a file name.

A listing of `runs/<owner>/` with the delimiter `/` then gives every run once (its folder) and its
summaries, without a GET per run: 5,000 runs are about ten pages. A run keeps the summary of each
stage it was recorded at (the backend only adds objects); the latest stage's is the run's. A run with
no summary (recorded before the index) or two at its latest stage (two writers) is read from its record.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from nsclient_common.layout import runs_prefix
from nsclient_common.record import RunRecord, parse_iso

SUMMARY_FIELDS = (
    "status",
    "failure_class",
    "submitted_at",
    "started_at",
    "finished_at",
    "cpus",
    "memory_mib",
    "submitter",
)
TIMES = frozenset({"submitted_at", "started_at", "finished_at"})
# The submitter is a display name from the upload's metadata: cut so that the name stays short.
SUBMITTER_BYTES = 48


def _compact_time(text: str) -> str:
    return text.replace("-", "").replace(":", "")


def _record_time(text: str) -> str:
    """20261205T031500Z as the record writes it (record.TIME_FORMAT)."""
    return f"{text[0:4]}-{text[4:6]}-{text[6:8]}T{text[9:11]}:{text[11:13]}:{text[13:15]}Z"


def _encode(field: str, value: object) -> str:
    if value is None:
        return ""
    if field == "submitter":
        cut = str(value).encode()[:SUBMITTER_BYTES].decode(errors="ignore")
        return base64.urlsafe_b64encode(cut.encode()).decode().rstrip("=")
    text = str(getattr(value, "value", value))
    return _compact_time(text) if field in TIMES else text


def _decode(field: str, text: str) -> object:
    if not text:
        return None
    if field == "submitter":
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
    if field in TIMES:
        moment = _record_time(text)
        parse_iso(moment)  # a name that is not a time is no summary
        return moment
    return text


def summary_key(record: RunRecord) -> str:
    summary = "_".join(_encode(field, getattr(record, field)) for field in SUMMARY_FIELDS)
    return f"{runs_prefix(record.owner)}{record.run_id}.{record.status.stage}.{summary}"


@dataclass(frozen=True)
class Summary:
    stage: int
    record: RunRecord  # the summary's fields only: enough to list the run, not its whole record


def parse_summary_key(key: str, owner: str | None) -> tuple[str, Summary] | None:
    """(run id, summary) of an index key in the owner's folder; None for any other key."""
    name = key.removeprefix(runs_prefix(owner))
    if name == key or "/" in name or name.count(".") != 2:
        return None
    run_id, stage, summary = name.split(".")
    values = summary.split("_", len(SUMMARY_FIELDS) - 1)  # the submitter, last, may hold `_`
    if len(values) != len(SUMMARY_FIELDS):
        return None
    try:
        fields = {field: _decode(field, text) for field, text in zip(SUMMARY_FIELDS, values, strict=True)}
        record = RunRecord.model_validate({**fields, "run_id": run_id, "owner": owner})
    except (ValueError, binascii.Error):
        return None
    if not stage.isdigit() or int(stage) != record.status.stage:
        return None
    return run_id, Summary(int(stage), record)


def latest(summaries: list[Summary]) -> RunRecord | None:
    """The run's summary at its latest stage; None when there is none, or two disagree there."""
    if not summaries:
        return None
    stage = max(s.stage for s in summaries)
    at_stage = {s.record.model_dump_json() for s in summaries if s.stage == stage}
    if len(at_stage) != 1:
        return None
    return next(s.record for s in summaries if s.stage == stage)
