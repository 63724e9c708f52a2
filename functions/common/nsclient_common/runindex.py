"""The run index: what a listing of runs shows, readable from the listing itself.

Each time the backend writes a run record it also writes an empty object in the owner's index whose name
carries the record's summary:

    runs/<owner>/index/<newest-first>.<run-id>.<stage>.<summary>

newest-first is the submission time, its digits each taken from 9 (20261205031500 is 79738794968499), so
that the index lists newest first: a listing of the last 30 days stops at the first page that reaches past
them, and every run is one key per stage, with nothing else under the prefix. stage is how far along the
run is (RunStatus.stage). The summary is SUMMARY_FIELDS in order, joined by `_`: times as 20261205T031500Z,
absent values empty, the submitter last, as base64url of at most SUBMITTER_BYTES bytes. The name stays
within 255 bytes, so a copy of the bucket on a disk (`aws s3 sync`, the local backend's) can hold it as a
file name. A run keeps the summary of each stage it was recorded at (the backend only adds objects); the
latest stage's is the run's. A run with two at its latest stage (two writers) is read from its record.

With its first summary the backend also writes `runs/<owner>/index/!since.<time>`, which sorts before
every summary: runs recorded only before then have no summary in this index. Only the writer whose
conditional create of `runs/<owner>/index/!begun` succeeded writes it, so there is one.
Backends before it wrote the same summary beside the run's folder, `runs/<owner>/<run-id>.<stage>.<summary>`,
and older ones none; legacy_ranges says which part of the owner's folder can still hold such runs.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime, timedelta

from nsclient_common.layout import index_prefix, runs_prefix
from nsclient_common.record import RunRecord, iso_utc, parse_iso

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
# `!` sorts before every digit, so these come first in the index: the claim of the first writer, which alone
# then writes when the index began (a name that holds the time cannot be created once).
BEGUN_MARKER = "!begun"
SINCE_MARKER = "!since."
# A run id starts with its push's time on the pushing machine's clock, which may be off from the backend's.
CLOCK_MARGIN = timedelta(days=1)


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


def _newest_first(submitted_at: str) -> str:
    digits = _compact_time(submitted_at).replace("T", "").replace("Z", "")
    return "".join(str(9 - int(digit)) for digit in digits)


def summary_key(record: RunRecord) -> str:
    summary = "_".join(_encode(field, getattr(record, field)) for field in SUMMARY_FIELDS)
    name = f"{record.run_id}.{record.status.stage}.{summary}"
    return f"{index_prefix(record.owner)}{_newest_first(record.submitted_at)}.{name}"


def legacy_summary_key(record: RunRecord) -> str:
    """The summary's key as backends before the index wrote it, beside the run's folder (read still)."""
    return f"{runs_prefix(record.owner)}{summary_key(record).rsplit('/', 1)[1].split('.', 1)[1]}"


def begun_key(owner: str | None) -> str:
    return f"{index_prefix(owner)}{BEGUN_MARKER}"


def since_key(owner: str | None, moment: datetime) -> str:
    return f"{index_prefix(owner)}{SINCE_MARKER}{_compact_time(iso_utc(moment))}"


def parse_since_key(key: str, owner: str | None) -> datetime | None:
    """When the owner's index began, from its marker's key; None for any other key."""
    name = key.removeprefix(index_prefix(owner))
    if name == key or not name.startswith(SINCE_MARKER):
        return None
    try:
        return parse_iso(_record_time(name.removeprefix(SINCE_MARKER)))
    except ValueError:
        return None


def legacy_ranges(owner: str | None, since: datetime) -> list[tuple[str, str | None]]:
    """Where the owner's folder may hold runs that the index, begun at since, lacks: (the key a listing starts
    after, the last key it needs; None: to the end). Run ids that start with a digit start with their push's
    time (nsclient's), so only those up to since are needed; others (an upload named by another tool) sort
    before the digits (`-`), or after them, where the folder's other folders (index/, notices/) are."""
    folder = runs_prefix(owner)
    return [("", f"{folder}{_compact_time(iso_utc(since + CLOCK_MARGIN))}"), (f"{folder}:", None)]  # `:` follows 9


@dataclass(frozen=True)
class Summary:
    stage: int
    record: RunRecord  # the summary's fields only: enough to list the run, not its whole record


def parse_summary_key(key: str, owner: str | None) -> tuple[str, Summary] | None:
    """(run id, summary) of a summary's key in the owner's index, or beside their run folders as backends
    before the index wrote it; None for any other key."""
    name = key.removeprefix(index_prefix(owner))
    order = None
    if name != key:
        order, _, name = name.partition(".")
    else:
        name = key.removeprefix(runs_prefix(owner))
        if name == key:
            return None
    if "/" in name or name.count(".") != 2:
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
    if order is not None and order != _newest_first(record.submitted_at):
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
