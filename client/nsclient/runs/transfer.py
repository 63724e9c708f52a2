"""A build's way up and its results' way back: push zips and uploads a folder into the caller's inbox
(which starts a run), pull writes what the run produced into a folder."""

from __future__ import annotations

import zipfile
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from nsclient import pullstate
from nsclient.errors import UserError
from nsclient.example import is_the_example
from nsclient.pace import Pace
from nsclient.progress import Progress
from nsclient.pushes import remember_push
from nsclient.rangedpull import fetch_members, fetch_size, plan_ranges
from nsclient.runs.jobs import status
from nsclient.runs.records import is_missing
from nsclient.transfer import StreamingUpload
from nsclient.workdir import PullPlan, has_snakefile, member_crcs, plan_pull, upload_members
from nsclient.zipstream import zip_stream
from nsclient_common.envdir import Env, to_archive
from nsclient_common.layout import inbox_envd_key, inbox_key, workdir_key
from nsclient_common.record import RunStatus
from nsclient_common.request import BuildRequest, InvalidRequest, parse_request
from nsclient_common.runid import new_upload_name, run_id_for_upload
from nsclient_common.s3io import open_s3_object
from nsclient_common.settings import UNLIMITED

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from pathlib import Path

    from nsclient.backend import Backend


def check_request(request: BuildRequest) -> dict[str, str]:
    """The upload's metadata, its fields checked here as the backend will read them (the deployment's limits
    are checked before, by push)."""
    try:
        metadata = request.to_metadata()
        parse_request(metadata, UNLIMITED)
    except InvalidRequest as error:
        raise UserError(str(error)) from None
    return metadata


# An archive's last bytes fetched at once when its central directory is read: a build of 10,000 files
# has a directory of about 1 MB, which then costs one GET (more files, and the rest is read by range).
DIRECTORY_TAIL = 2 * 1024 * 1024

# Room kept in the metadata for the env.d's version id, which is known only once it is uploaded.
_VERSION_ID_ROOM = "v" * 64


def check_build_folder(directory: Path) -> None:
    """A folder push may upload, refused in one sentence otherwise (before a backend is even reached)."""
    if not directory.is_dir():
        raise UserError(f"{directory} is not a folder: give the build folder you would run `nextstrain build` on.")
    if is_the_example(directory):
        raise UserError(
            f"{directory} is nsclient's own copy of the example: copy it out first "
            f"(`cp -r {directory} zika-like`) and push the copy, or run `nsclient demo`."
        )
    if not has_snakefile(directory):
        raise UserError(f"{directory} has no Snakefile (nor workflow/Snakefile): is it a Snakemake build folder?")


def push(
    backend: Backend, directory: Path, request: BuildRequest, exclude: list[str], quiet: bool, env: Env | None = None
) -> str:
    check_build_folder(directory)
    metadata = check_request(request.model_copy(update={"envd_version": _VERSION_ID_ROOM}) if env else request)
    envd = to_archive(env) if env else None
    name = new_upload_name(directory.resolve().name)
    owner = backend.caller_id()
    key = inbox_key(name, owner)
    s3 = backend.client("s3")
    # The variables go first, beside the build and under a name that starts no run; the build's
    # metadata names their version, and the backend moves them into the run's folder.
    envd_key = inbox_envd_key(name, owner)
    if envd is not None:
        sent = s3.put_object(Bucket=backend.bucket, Key=envd_key, Body=envd, ContentType="application/zip")
        metadata = check_request(request.model_copy(update={"envd_version": sent.get("VersionId") or "null"}))
    # The folder is walked as it is compressed: the total grows until the walk is done.
    progress = Progress(f"Uploading {directory.name}", 0, quiet=quiet)
    try:
        version = upload_build(
            s3, backend.bucket, key, counted(upload_members(directory, exclude), progress), metadata, progress
        )
    except BaseException:
        if envd is not None:  # no run will read them
            s3.delete_object(Bucket=backend.bucket, Key=envd_key)
        raise
    progress.finish()
    run_id = run_id_for_upload(key, version)
    remember_push(run_id, directory)
    return run_id


def counted(members: Iterable[tuple[Path, str]], progress: Progress) -> Iterator[tuple[Path, str]]:
    """The members as they come, each file's size added to the progress's total."""
    for path, name in members:
        progress.expect(path.stat().st_size)
        yield path, name
    progress.counted()


def upload_build(
    s3: Any, bucket: str, key: str, members: Iterable[tuple[Path, str]], metadata: dict[str, str], progress: Progress
) -> str | None:
    """Zip the members while uploading them (parts go up as soon as they are compressed); the new VersionId."""
    with StreamingUpload(s3, bucket, key, metadata) as upload:
        zip_stream(members, upload.write, written=progress.update, pace=Pace(sent=upload.sent, unsent=upload.unsent))
    return upload.version


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
