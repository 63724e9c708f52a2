"""A build's way up: push checks a build folder, then zips and uploads it into the caller's inbox,
which starts a run; the upload's version names the run."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nsclient.errors import UserError
from nsclient.example import is_the_example
from nsclient.limits import check_within
from nsclient.progress import Progress
from nsclient.pushes import remember_push
from nsclient.transfer.folder import has_snakefile, upload_members
from nsclient.transfer.pace import Pace
from nsclient.transfer.upload import StreamingUpload
from nsclient.transfer.zipstream import zip_stream
from nsclient_common.envdir import Env, to_archive
from nsclient_common.layout import inbox_envd_key, inbox_key
from nsclient_common.request import BuildRequest, InvalidRequest, parse_request
from nsclient_common.runid import new_upload_name, run_id_for_upload
from nsclient_common.settings import UNLIMITED

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from pathlib import Path

    from nsclient.backend import Backend


def check_request(request: BuildRequest) -> dict[str, str]:
    """The upload's metadata, its fields checked here as the backend will read them (the deployment's limits
    are checked before, by push's check_within)."""
    try:
        metadata = request.to_metadata()
        parse_request(metadata, UNLIMITED)
    except InvalidRequest as error:
        raise UserError(str(error)) from None
    return metadata


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
    check_within(request, backend.limits)  # whoever pushes (the push command, the demo): before any upload
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
