"""A run's results' way back: pull writes what the run produced, and differs locally, into a folder."""

from __future__ import annotations

import zipfile
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from nsclient.errors import UserError
from nsclient.progress import Progress
from nsclient.runs.jobs import status
from nsclient.runs.records import is_missing
from nsclient.transfer import pullstate
from nsclient.transfer.download import fetch_members, fetch_size, plan_ranges
from nsclient.transfer.pullplan import PullPlan, member_crcs, plan_pull
from nsclient_common.layout import workdir_key
from nsclient_common.record import RunStatus
from nsclient_common.s3io import open_s3_object

if TYPE_CHECKING:
    from pathlib import Path

    from nsclient.backend import Backend

# An archive's last bytes fetched at once when its central directory is read: a build of 10,000 files
# has a directory of about 1 MB, which then costs one GET (more files, and the rest is read by range).
DIRECTORY_TAIL = 2 * 1024 * 1024


def input_crcs(s3: Any, bucket: str, key: str, input_version: str | None = None) -> dict[str, int] | None:
    """The CRCs of what was uploaded: the first version of workdir.zip (read from its central directory alone).

    The run record names that version; for runs recorded before it did, the versions are listed. S3
    lists a key's versions newest first, so the upload is the last one listed. LastModified cannot
    order them: it has whole seconds, and a quick run's results can share the upload's second."""
    if input_version:
        try:
            with open_s3_object(s3, bucket, key, input_version, tail=DIRECTORY_TAIL) as handle:
                with zipfile.ZipFile(handle) as archive:
                    return member_crcs(archive)
        except ClientError:
            pass  # gone (or never there): as for a run that does not name it
    try:
        pages = s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=key)
        versions = [v for page in pages for v in page.get("Versions", []) if v["Key"] == key]
    except ClientError:
        return None
    if len(versions) < 2:
        return None
    first = versions[-1]
    with open_s3_object(s3, bucket, key, first["VersionId"], first["Size"], tail=DIRECTORY_TAIL) as handle:
        with zipfile.ZipFile(handle) as archive:
            return member_crcs(archive)


def pull(
    backend: Backend, run_id: str, destination: Path, downloads: list[str], exclusions: list[str], quiet: bool
) -> tuple[PullPlan, list[Path]]:
    record = status(backend, run_id)
    if record.status == RunStatus.REJECTED:
        raise UserError(f"Run {run_id} was rejected ({record.reason}); it has no results.")
    if not record.status.is_final:
        raise UserError(f"Run {run_id} is {record.status.value}; pull its results once it has ended (nsclient status).")
    try:
        return pull_workdir(
            backend.client("s3"),
            backend.bucket,
            workdir_key(run_id, record.owner),
            destination,
            downloads,
            exclusions,
            quiet,
            input_version=record.input_version,
        )
    except ClientError as error:
        if is_missing(error):
            raise UserError(f"Run {run_id} has no results archive (it may have expired from the bucket).") from None
        raise


def pull_workdir(
    s3: Any,
    bucket: str,
    key: str,
    destination: Path,
    downloads: list[str],
    exclusions: list[str],
    quiet: bool,
    input_version: str | None = None,
) -> tuple[PullPlan, list[Path]]:
    """Write what the results zip at `key` holds that the run produced and differs locally; `input_version`
    is the upload's version of the key, when the run record names it."""
    destination.mkdir(parents=True, exist_ok=True)
    head = s3.head_object(Bucket=bucket, Key=key)
    version = head.get("VersionId")
    identity = f"{version}|{head['ETag']}"
    known = pullstate.load(bucket, key, destination)
    if known and pullstate.still_holds(known, destination, identity, downloads, exclusions):
        kept = list(known.files)
        plan = PullPlan(unchanged=len(kept), kept=kept, not_produced=known.not_produced, unselected=known.unselected)
        return plan, []
    pullstate.forget(bucket, key, destination)  # the folder is about to change: a failed pull leaves no state
    with ThreadPoolExecutor(1) as pool:
        inputs_read = pool.submit(
            input_crcs, s3, bucket, key, input_version
        )  # read alongside the results' own directory
        # Only the central directory is read here; the members to write are fetched by range below.
        with open_s3_object(s3, bucket, key, version, head["ContentLength"], tail=DIRECTORY_TAIL) as handle:
            with zipfile.ZipFile(handle) as results:
                inputs = inputs_read.result()
                plan = plan_pull(results, destination, inputs=inputs, downloads=downloads, exclusions=exclusions)
                groups = plan_ranges(results, plan.extract)
    progress = Progress("Downloading results", fetch_size(groups), quiet=quiet)
    written = fetch_members(s3, bucket, key, version, groups, destination, progress)
    progress.finish()
    files = pullstate.observe(destination, plan.kept + [member.filename for member in plan.extract])
    if files is not None and not plan.refused:
        state = pullstate.PullState(identity, downloads, exclusions, plan.not_produced, plan.unselected, files)
        pullstate.save(bucket, key, destination, state)
    return plan, written
