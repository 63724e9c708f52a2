"""The run records in the bucket: one run's, and a person's (or, for an admin, everyone's) list."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from nsclient.errors import UserError
from nsclient.pushes import pushed_directory
from nsclient.runs.listing import folder_runs
from nsclient_common import runstore
from nsclient_common.layout import RUNS_PREFIX, index_prefix
from nsclient_common.record import RunRecord, parse_iso
from nsclient_common.runid import is_run_id
from nsclient_common.runindex import latest
from nsclient_common.s3errors import error_code, is_missing

if TYPE_CHECKING:
    from nsclient.backend import Backend


def is_denied(error: ClientError) -> bool:
    return error_code(error) in ("AccessDenied", "403")


def check_run_id(run_id: str) -> str:
    if not is_run_id(run_id):
        raise UserError(f"{run_id!r} is not a run id: run ids look like 20261125T093000Z-zika-1a2b3c4d5e.")
    return run_id


def _record_at(backend: Backend, run_id: str, owner: str | None) -> RunRecord | None:
    """The record in one folder; None where there is none, or where the caller may not look."""
    try:
        return runstore.find_record(backend.client("s3"), backend.bucket, run_id, owner)
    except ClientError as error:
        if is_missing(error) or is_denied(error):
            return None
        raise


def _other_folders(backend: Backend) -> list[str]:
    """The folders under runs/ (each person's, and the runs made before folders): only an admin may list
    them; a person's listing is refused, and then there are none to look in."""
    s3 = backend.client("s3")
    folders: list[str] = []
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=backend.bucket, Prefix=RUNS_PREFIX, Delimiter="/"
        ):
            folders += [p["Prefix"][len(RUNS_PREFIX) : -1] for p in page.get("CommonPrefixes", [])]
    except ClientError as error:
        if is_denied(error):
            return []
        raise
    return folders


def read_record(backend: Backend, run_id: str) -> RunRecord | None:
    """The run's record: in the caller's own folder, else (for an admin) wherever it is."""
    record = _record_at(backend, run_id, backend.caller_id())
    if record is not None or pushed_directory(run_id) is not None:  # this machine's push is the caller's
        return record
    for folder in _other_folders(backend):
        owner = None if folder == run_id else folder
        if owner == backend.caller_id():
            continue
        record = _record_at(backend, run_id, owner)
        if record is not None:
            return record
    return None


def parse_since(text: str) -> timedelta:
    units = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
    if len(text) < 2 or text[-1] not in units or not text[:-1].isdigit():
        raise UserError(f"--since takes a number and a unit (m, h, d, w), such as 7d or 12h, not {text!r}.")
    return timedelta(seconds=int(text[:-1]) * units[text[-1]])


def _owners(backend: Backend) -> list[str]:
    """Every person's folder under runs/ (the others are runs made before folders, and their index)."""
    index = index_prefix(None).removeprefix(RUNS_PREFIX).rstrip("/")
    return [name for name in _other_folders(backend) if name != index and not is_run_id(name)]


def _everyones_runs(backend: Backend, cutoff: datetime | None) -> list[tuple[str | None, str, RunRecord | None]]:
    """Every run in the bucket: the ownerless ones under runs/ (made before per-person folders), then each
    person's folder."""
    s3, bucket = backend.client("s3"), backend.bucket
    owners: list[str | None] = [None, *_owners(backend)]
    runs: list[tuple[str | None, str, RunRecord | None]] = []
    with ThreadPoolExecutor(8) as pool:
        for owner, found in zip(owners, pool.map(lambda o: folder_runs(s3, bucket, o, cutoff), owners), strict=True):
            runs += [(owner, run_id, latest(summaries)) for run_id, summaries in found.summaries.items()]
    return runs


def list_records(
    backend: Backend, since: timedelta | None, everyone: bool = False, full: bool = False
) -> list[RunRecord]:
    """The caller's runs (newest first), or with everyone every run in the bucket (for admins).

    Each run is listed from its summary in the run index (listing.py): a listing of the index, newest first,
    no GET per run. A run without one (recorded before the index), a run still going, and every run with
    `full`, is read from its record.
    """
    s3 = backend.client("s3")
    cutoff = datetime.now(UTC) - since if since else None
    try:
        if everyone:
            runs = _everyones_runs(backend, cutoff)
        else:
            owner = backend.caller_id()
            found = folder_runs(s3, backend.bucket, owner, cutoff)
            runs = [(owner, run_id, latest(summaries)) for run_id, summaries in found.summaries.items()]
    except ClientError as error:
        if everyone and is_denied(error):
            raise UserError("Listing everyone's runs needs the stack's admin policy (NsclientAdminPolicy).") from None
        raise

    # A run still going is read whole: its record names the queues where its live job is looked for.
    def enough(summary: RunRecord | None) -> bool:
        return summary is not None and summary.status.is_final and not full

    # The cutoff is on the record's own submission time; a run whose summary is older needs no reading.
    runs = [r for r in runs if r[2] is None or cutoff is None or parse_iso(r[2].submitted_at) >= cutoff]
    listed = [summary for _, _, summary in runs if summary is not None and enough(summary)]
    to_read = [(owner, run_id) for owner, run_id, summary in runs if not enough(summary)]

    def fetch(location: tuple[str | None, str]) -> RunRecord | None:
        owner, run_id = location
        return _record_at(backend, run_id, owner)

    with ThreadPoolExecutor(8) as pool:
        read = [r for r in pool.map(fetch, to_read) if r is not None]
    records = listed + [r for r in read if cutoff is None or parse_iso(r.submitted_at) >= cutoff]
    return sorted(records, key=lambda r: (r.submitted_at, r.run_id), reverse=True)
