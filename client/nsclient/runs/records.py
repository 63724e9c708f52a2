"""The run records in the bucket: one run's, and a person's (or, for an admin, everyone's) list."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from nsclient.errors import UserError
from nsclient.pushes import pushed_directory
from nsclient_common import runstore
from nsclient_common.layout import RUNS_PREFIX, record_location, runs_prefix
from nsclient_common.record import RunRecord, parse_iso
from nsclient_common.runid import is_run_id
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


def list_records(backend: Backend, since: timedelta | None, everyone: bool = False) -> list[RunRecord]:
    """The caller's run records (newest first), or with everyone every run's in the bucket (for admins)."""
    s3 = backend.client("s3")
    locations: list[tuple[str | None, str]] = []  # (owner, run id)
    cutoff = datetime.now(UTC) - since if since else None
    prefix = RUNS_PREFIX if everyone else runs_prefix(backend.caller_id())
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=backend.bucket, Prefix=prefix):
            for entry in page.get("Contents", []):
                location = record_location(entry["Key"])
                if location and (cutoff is None or entry["LastModified"] >= cutoff):
                    locations.append(location)
    except ClientError as error:
        if everyone and is_denied(error):
            raise UserError("Listing everyone's runs needs the stack's admin policy (NsclientAdminPolicy).") from None
        raise

    def fetch(location: tuple[str | None, str]) -> RunRecord:
        owner, run_id = location
        return runstore.read_record(s3, backend.bucket, run_id, owner)

    with ThreadPoolExecutor(8) as pool:
        records = list(pool.map(fetch, locations))
    if cutoff is not None:
        records = [r for r in records if parse_iso(r.submitted_at) >= cutoff]
    return sorted(records, key=lambda r: (r.submitted_at, r.run_id), reverse=True)
