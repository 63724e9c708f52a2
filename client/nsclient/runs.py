"""What the commands do to runs, over the S3 layout, Step Functions, Batch and CloudWatch Logs.

The run record (runs/<id>/run.json) is the durable index; Batch is asked only for what the record
can't know yet (the live job state and log of a run in progress).
"""

from __future__ import annotations

import json
import os
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from nsclient.errors import RunNotFoundError, UserError
from nsclient.paths import pushes_file
from nsclient.progress import Progress
from nsclient.rangedpull import fetch_members, fetch_size, plan_ranges
from nsclient.transfer import StreamingUpload
from nsclient.workdir import PullPlan, has_snakefile, member_crcs, plan_pull, upload_members
from nsclient.zipstream import zip_stream
from nsclient_common.envdir import Env, to_archive
from nsclient_common.failure import CANCEL_REASON
from nsclient_common.jobfacts import log_group_of
from nsclient_common.layout import (
    RUNS_PREFIX,
    cancel_request_key,
    inbox_envd_key,
    inbox_key,
    log_key,
    record_key,
    record_location,
    runs_prefix,
    workdir_key,
)
from nsclient_common.record import RunRecord, RunStatus, iso_from_millis
from nsclient_common.request import BuildRequest, InvalidRequest, parse_request
from nsclient_common.runid import is_run_id, new_upload_name, run_id_for_upload
from nsclient_common.s3io import open_s3_object
from nsclient_common.settings import Limits

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from nsclient.backend import Backend

ACTIVE_JOB_STATUSES = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING")


def _missing(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound", "NoSuchVersion")


# --- push -------------------------------------------------------------------------------------


def check_request(request: BuildRequest) -> dict[str, str]:
    """The upload's metadata, checked here as the backend will check it (with default limits)."""
    try:
        metadata = request.to_metadata()
        parse_request(metadata, Limits(max_cpus=10**6, max_memory_mib=10**9))
    except InvalidRequest as error:
        raise UserError(str(error)) from None
    return metadata


# Room kept in the metadata for the env.d's version id, which is known only once it is uploaded.
_VERSION_ID_ROOM = "v" * 64


def push(
    backend: Backend, directory: Path, request: BuildRequest, exclude: list[str], quiet: bool, env: Env | None = None
) -> str:
    if not directory.is_dir():
        raise UserError(f"{directory} is not a folder: give the build folder you would run `nextstrain build` on.")
    if not has_snakefile(directory):
        raise UserError(f"{directory} has no Snakefile (nor workflow/Snakefile): is it a Snakemake build folder?")
    metadata = check_request(request.model_copy(update={"envd_version": _VERSION_ID_ROOM}) if env else request)
    envd = to_archive(env) if env else None
    name = new_upload_name(directory.resolve().name)
    owner = backend.caller_id()
    key = inbox_key(name, owner)
    s3 = backend.client("s3")
    members = list(upload_members(directory, exclude))
    total = sum(path.stat().st_size for path, _ in members)
    # The variables go first, beside the build and under a name that starts no run; the build's
    # metadata names their version, and the backend moves them into the run's folder.
    envd_key = inbox_envd_key(name, owner)
    if envd is not None:
        sent = s3.put_object(Bucket=backend.bucket, Key=envd_key, Body=envd, ContentType="application/zip")
        metadata = check_request(request.model_copy(update={"envd_version": sent.get("VersionId") or "null"}))
    progress = Progress(f"Uploading {len(members)} files", total, quiet=quiet)
    try:
        version = upload_build(s3, backend.bucket, key, members, metadata, progress)
    except BaseException:
        if envd is not None:  # no run will read them
            s3.delete_object(Bucket=backend.bucket, Key=envd_key)
        raise
    progress.finish()
    run_id = run_id_for_upload(key, version)
    remember_push(run_id, directory)
    return run_id


def upload_build(
    s3: Any, bucket: str, key: str, members: list[tuple[Path, str]], metadata: dict[str, str], progress: Progress
) -> str | None:
    """Zip the members while uploading them (parts go up as soon as they are compressed); the new VersionId."""
    with StreamingUpload(s3, bucket, key, metadata) as upload:
        zip_stream(members, upload.write, written=progress.update)
    return upload.version


def _read_pushes(path: Path) -> dict[str, str]:
    try:
        pushes = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return {}
    return pushes if isinstance(pushes, dict) else {}


def remember_push(run_id: str, directory: Path) -> None:
    path = pushes_file()
    pushes = _read_pushes(path)
    pushes[run_id] = str(directory.resolve())
    path.parent.mkdir(parents=True, exist_ok=True)
    # Replaced whole, so that a push in another terminal never reads it half written.
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    partial.write_text(json.dumps(pushes, indent=2))
    partial.replace(path)


def pushed_directory(run_id: str) -> Path | None:
    directory = _read_pushes(pushes_file()).get(run_id)
    return Path(directory) if directory else None


# --- status -------------------------------------------------------------------------------------


def check_run_id(run_id: str) -> str:
    if not is_run_id(run_id):
        raise UserError(f"{run_id!r} is not a run id: run ids look like 20261125T093000Z-zika-1a2b3c4d5e.")
    return run_id


def _read_record_at(backend: Backend, run_id: str, owner: str | None) -> RunRecord | None:
    try:
        body = backend.client("s3").get_object(Bucket=backend.bucket, Key=record_key(run_id, owner))["Body"].read()
    except ClientError as error:
        if _missing(error) or _denied(error):
            return None
        raise
    return RunRecord.from_json(body)


def _denied(error: ClientError) -> bool:
    return str(error.response.get("Error", {}).get("Code")) in ("AccessDenied", "403")


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
        if _denied(error):
            return []
        raise
    return folders


def read_record(backend: Backend, run_id: str) -> RunRecord | None:
    """The run's record: in the caller's own folder, else (for an admin) wherever it is."""
    record = _read_record_at(backend, run_id, backend.caller_id())
    if record is not None or pushed_directory(run_id) is not None:  # this machine's push is the caller's
        return record
    for folder in _other_folders(backend):
        owner = None if folder == run_id else folder
        if owner == backend.caller_id():
            continue
        record = _read_record_at(backend, run_id, owner)
        if record is not None:
            return record
    return None


def find_job(backend: Backend, run_id: str, queue: str | None) -> dict[str, Any] | None:
    """The run's newest Batch job (named by the run id), while Batch still remembers it."""
    if not queue:
        return None
    batch = backend.client("batch")
    try:
        summaries = batch.list_jobs(jobQueue=queue, filters=[{"name": "JOB_NAME", "values": [run_id]}])[
            "jobSummaryList"
        ]
    except ClientError:
        return None
    if not summaries:
        return None
    newest = max(summaries, key=lambda s: s.get("createdAt", 0))
    jobs = batch.describe_jobs(jobs=[newest["jobId"]])["jobs"]
    return jobs[0] if jobs else None


def execution_status(backend: Backend, run_id: str) -> str | None:
    """The execution's status, to an admin; a person may not describe executions (they are everyone's)."""
    if not backend.state_machine_arn:
        return None
    sfn = backend.client("stepfunctions")
    try:
        return str(sfn.describe_execution(executionArn=backend.execution_arn(run_id))["status"])
    except sfn.exceptions.ExecutionDoesNotExist:
        return None
    except ClientError as error:
        if _denied(error):
            return None
        raise


def status(backend: Backend, run_id: str) -> RunRecord:
    """The run's record, with the live job state while it runs."""
    check_run_id(run_id)
    record = read_record(backend, run_id)
    if record is None:
        # This machine's push whose record the backend has not written yet, or (to an admin) an execution.
        if pushed_directory(run_id) is None and execution_status(backend, run_id) is None:
            raise RunNotFoundError(run_id)
        # Started but not yet prepared: say so rather than 'not found'.
        return RunRecord(
            run_id=run_id, status=RunStatus.SUBMITTED, submitted_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        )
    if record.status.is_final:
        return record
    job = find_job(backend, run_id, record.job_queue or backend.job_queue)
    if job is None:
        return record
    live = job["status"]
    update: dict[str, Any] = {"job_id": job["jobId"]}
    if live in ("RUNNABLE", "RUNNING"):
        update["status"] = RunStatus(live)
    elif live in ("STARTING",):
        update["status"] = RunStatus.RUNNABLE
    if job.get("startedAt"):
        update["started_at"] = iso_from_millis(job["startedAt"])
    return record.model_copy(update=update)


def parse_since(text: str) -> timedelta:
    units = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
    if len(text) < 2 or text[-1] not in units or not text[:-1].isdigit():
        raise UserError(f"--since takes a number and a unit (m, h, d, w), such as 7d or 12h, not {text!r}.")
    return timedelta(seconds=int(text[:-1]) * units[text[-1]])


def list_runs(backend: Backend, since: timedelta | None, everyone: bool = False) -> list[RunRecord]:
    """The caller's runs (newest first), or with everyone every run in the bucket (for admins), from
    the run records alone."""
    s3 = backend.client("s3")
    keys: list[str] = []
    cutoff = datetime.now(UTC) - since if since else None
    prefix = RUNS_PREFIX if everyone else runs_prefix(backend.caller_id())
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=backend.bucket, Prefix=prefix):
            for entry in page.get("Contents", []):
                if record_location(entry["Key"]) and (cutoff is None or entry["LastModified"] >= cutoff):
                    keys.append(entry["Key"])
    except ClientError as error:
        if everyone and _denied(error):
            raise UserError("Listing everyone's runs needs the stack's admin policy (NsclientAdminPolicy).") from None
        raise

    def fetch(key: str) -> RunRecord:
        return RunRecord.from_json(s3.get_object(Bucket=backend.bucket, Key=key)["Body"].read())

    with ThreadPoolExecutor(8) as pool:
        records = list(pool.map(fetch, keys))
    if cutoff is not None:
        records = [
            r for r in records if datetime.strptime(r.submitted_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC) >= cutoff
        ]
    return sorted(records, key=lambda r: (r.submitted_at, r.run_id), reverse=True)


# --- logs -----------------------------------------------------------------------------------------


def archived_log(backend: Backend, run_id: str, owner: str | None) -> Iterator[str]:
    try:
        body = backend.client("s3").get_object(Bucket=backend.bucket, Key=log_key(run_id, owner))["Body"]
    except ClientError as error:
        if _missing(error):
            return
        raise
    for line in body.iter_lines():
        yield line.decode("utf-8", "replace")


def _live_events(logs: Any, group: str, stream: str, token: str | None) -> tuple[list[str], str | None]:
    kwargs: dict[str, Any] = {"logGroupName": group, "logStreamName": stream, "startFromHead": True}
    if token:
        kwargs["nextToken"] = token
    try:
        page = logs.get_log_events(**kwargs)
    except logs.exceptions.ResourceNotFoundException:
        return [], token
    return [e["message"] for e in page.get("events", [])], page.get("nextForwardToken")


def await_run(backend: Backend, run_id: str, timeout: float = 60.0) -> RunRecord:
    """The status of a run just pushed: its upload event may take a moment to start the execution."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return status(backend, run_id)
        except RunNotFoundError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def log_lines(
    backend: Backend, run_id: str, follow: bool, poll: float = 1.0, on_status: Callable[[RunRecord], None] | None = None
) -> Iterator[str]:
    """The archived log of a finished run; the live stream of a running one (to its end with follow).
    on_status sees the run's record each time it is read."""
    record = await_run(backend, run_id) if follow else status(backend, run_id)
    if on_status:
        on_status(record)
    if record.status.is_final:
        yield from archived_log(backend, run_id, record.owner)
        return
    logs = backend.client("logs")
    token: str | None = None
    stream: str | None = None
    group = ""
    while True:
        if stream is None:
            job = find_job(backend, run_id, record.job_queue or backend.job_queue)
            stream = (job or {}).get("container", {}).get("logStreamName") if job else None
            group = log_group_of(job or {})
        if stream:
            # Drain every page available now, then look again later.
            while True:
                lines, next_token = _live_events(logs, group, stream, token)
                yield from lines
                if next_token == token or not lines:
                    token = next_token or token
                    break
                token = next_token
        if not follow:
            return
        record = status(backend, run_id)
        if on_status:
            on_status(record)
        if record.status.is_final:
            if stream:
                lines, token = _live_events(logs, group, stream, token)
                yield from lines
            else:
                yield from archived_log(backend, run_id, record.owner)
            return
        time.sleep(poll)


# --- cancel ---------------------------------------------------------------------------------------


def cancel(backend: Backend, run_id: str) -> list[str]:
    """Cancel a run. A person asks the backend, with a request object in their own inbox folder: the
    backend checks the run is theirs and stops its execution (then ReconcileRun terminates the job,
    records CANCELLED and notifies), so people need no Step Functions or Batch permissions. An admin
    cancelling someone else's run stops the execution itself."""
    record = status(backend, run_id)
    if record.status.is_final:
        raise UserError(f"Run {run_id} already ended {record.status.value}; there is nothing to cancel.")
    me = backend.caller_id()
    if record.owner == me or (record.owner is None and pushed_directory(run_id) is not None):
        backend.client("s3").put_object(Bucket=backend.bucket, Key=cancel_request_key(run_id, me), Body=b"")
        return ["asked the backend to stop it; it terminates the Batch job"]
    sfn = backend.client("stepfunctions")
    try:
        sfn.stop_execution(executionArn=backend.execution_arn(run_id), error="Cancelled", cause=CANCEL_REASON)
    except sfn.exceptions.ExecutionDoesNotExist:
        return []
    return ["stopped the execution; the backend terminates its Batch job"]


# --- pull -----------------------------------------------------------------------------------------


def input_crcs(s3: Any, bucket: str, key: str) -> dict[str, int] | None:
    """The CRCs of what was uploaded: the first version of workdir.zip (read from its central directory alone)."""
    try:
        versions = s3.list_object_versions(Bucket=bucket, Prefix=key).get("Versions", [])
    except ClientError:
        return None
    versions = [v for v in versions if v["Key"] == key]
    if len(versions) < 2:
        return None
    first = min(versions, key=lambda v: v["LastModified"])
    with open_s3_object(s3, bucket, key, first["VersionId"], first["Size"]) as handle:
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
        )
    except ClientError as error:
        if _missing(error):
            raise UserError(f"Run {run_id} has no results archive (it may have expired from the bucket).") from None
        raise


def pull_workdir(
    s3: Any, bucket: str, key: str, destination: Path, downloads: list[str], exclusions: list[str], quiet: bool
) -> tuple[PullPlan, list[Path]]:
    """Write what the results zip at `key` holds that the run produced and differs locally."""
    destination.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(1) as pool:
        inputs_read = pool.submit(input_crcs, s3, bucket, key)  # read alongside the results' own directory
        head = s3.head_object(Bucket=bucket, Key=key)
        version = head.get("VersionId")
        # Only the central directory is read here; the members to write are fetched by range below.
        with open_s3_object(s3, bucket, key, version, head["ContentLength"]) as handle:
            with zipfile.ZipFile(handle) as results:
                inputs = inputs_read.result()
                plan = plan_pull(results, destination, inputs=inputs, downloads=downloads, exclusions=exclusions)
                groups = plan_ranges(results, plan.extract)
    progress = Progress("Downloading results", fetch_size(groups), quiet=quiet)
    written = fetch_members(s3, bucket, key, version, groups, destination, progress)
    progress.finish()
    return plan, written
