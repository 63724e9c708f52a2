"""PrepareRun: check an upload and turn it into the run's Batch job request.

The steps are each a call: the checks, the owner's job role and job definition (jobrole, jobdefinition),
the copy of the upload, the env.d's move (envmove), the record, the job request (submitjob).

State input (execution.PrepareInput): run_id, execution_arn, owner, upload {bucket, key, version_id, size, requester}.
Output (execution.PrepareResult): accepted, reason (why not, for a person), job (SubmitJob parameters) or null, record.
The upload is only read, never moved: a rejected one stays where it was sent. Its env.d (the build's
environment variables) is moved into the run's folder for the job, or deleted if the run is rejected:
secrets are not left lying in inbox/.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypedDict

from nsclient_common.aws import client
from nsclient_common.envmove import EnvdMissing, discard_envd, move_envd
from nsclient_common.execution import JobRequest, PrepareInput, PrepareResult, Upload
from nsclient_common.jobdefinition import definition_for_run
from nsclient_common.jobrole import NotAnOwner, check_owner, ensure_job_role, wait_until_usable
from nsclient_common.layout import (
    envd_key,
    s3_url,
    uploader_name,
    workdir_key,
)
from nsclient_common.observability import count_run_finished, for_function
from nsclient_common.record import FailureClass, RunRecord, RunStatus, UploadSource, utc_now
from nsclient_common.request import (
    CPUS,
    ENVD_VERSION,
    MEMORY,
    NOTIFY,
    SUBMITTER,
    BuildRequest,
    InvalidRequest,
    notify_refusal,
    parse_request,
)
from nsclient_common.runstore import find_record, write_record
from nsclient_common.s3io import open_s3_object
from nsclient_common.settings import UNLIMITED, Settings, current_settings
from nsclient_common.submitjob import submit_job_parameters
from nsclient_common.zipcheck import UploadRejected, check_build_archive

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from types_boto3_batch import BatchClient
    from types_boto3_iam import IAMClient
    from types_boto3_s3 import S3Client

observability = for_function("PrepareRun")
logger, tracer = observability.logger, observability.tracer


class Rejection(Exception):
    """The upload is not a build this stack runs: the reason, for a person, and what was kept of its request."""

    def __init__(self, reason: str, request: BuildRequest) -> None:
        super().__init__(reason)
        self.reason, self.request = reason, request


class _VersionArgument(TypedDict, total=False):
    VersionId: str


def _version(upload: Upload) -> _VersionArgument:
    return {"VersionId": upload.version_id} if upload.version_id and upload.version_id != "null" else {}


def _new_record(event: PrepareInput, request: BuildRequest, status: RunStatus, settings: Settings) -> RunRecord:
    # An address the stack may not mail is dropped, not rejected: the run goes on, its record says why.
    refused = notify_refusal(request.notify, settings.limits.notify_allowed or "")
    return RunRecord(
        notify_refused=refused,
        run_id=event.run_id,
        status=status,
        submitted_at=utc_now(),
        cpus=request.cpus,
        memory_mib=request.memory_mib,
        execution_arn=event.execution_arn,
        workdir_url=s3_url(settings.bucket, workdir_key(event.run_id, event.owner)),
        submitter=request.submitter or uploader_name(event.owner),
        notify=None if refused else request.notify,
        image=request.image,
        snakemake_args=request.snakemake_args,
        job_queue=settings.job_queue,
        on_demand_job_queue=settings.on_demand_job_queue or None,
        upload=UploadSource(bucket=event.upload.bucket, key=event.upload.key, version_id=event.upload.version_id),
        updated_at=utc_now(),
        owner=event.owner,
    )


# The cpus and memory asked for are kept even over the limits, so the rejected run's record shows the request.
_SALVAGED = (
    (NOTIFY, "notify"),
    (SUBMITTER, "submitter"),
    (ENVD_VERSION, "envd_version"),
    (CPUS, "cpus"),
    (MEMORY, "memory_mib"),
)


def _salvage(metadata: dict[str, str]) -> BuildRequest:
    """What can be kept of invalid options, each field checked on its own: the notify address, if it is
    valid, so the rejection reaches the person; the submitter, if it is clean, so the record names them;
    the env.d version, so the variables sent with the build are deleted; the cpus and memory asked for."""
    kept: dict[str, Any] = {}
    for field, attribute in _SALVAGED:
        try:
            kept[attribute] = getattr(parse_request({field: metadata[field]}, UNLIMITED), attribute)
        except (KeyError, InvalidRequest):
            continue
    return BuildRequest.model_validate(kept)


def reject(event: PrepareInput, reason: str, request: BuildRequest, settings: Settings, s3: S3Client) -> PrepareResult:
    discard_envd(s3, event.upload, request.envd_version)
    record = _new_record(event, request, RunStatus.REJECTED, settings).model_copy(
        update={"failure_class": FailureClass.REJECTED, "reason": reason, "finished_at": utc_now(), "workdir_url": None}
    )
    write_record(s3, settings.bucket, record)
    count_run_finished(record)
    return PrepareResult(accepted=False, reason=reason, job=None, record=record)


def checked_request(event: PrepareInput, settings: Settings, s3: S3Client) -> BuildRequest:
    """What the upload asks for, once its folder, its options and its archive pass; else Rejection."""
    try:
        check_owner(event.owner)
    except NotAnOwner as error:
        raise Rejection(f"The upload's folder names no person: {error}.", BuildRequest()) from None
    upload = event.upload
    head = s3.head_object(Bucket=upload.bucket, Key=upload.key, **_version(upload))
    metadata = head.get("Metadata", {})
    try:
        request = parse_request(metadata, settings.limits)
    except InvalidRequest as error:
        raise Rejection(f"The build's options are invalid: {error}.", _salvage(metadata)) from None
    try:
        with open_s3_object(s3, upload.bucket, upload.key, upload.version_id, head["ContentLength"]) as archive:
            check_build_archive(archive, head["ContentLength"], settings.limits)
    except UploadRejected as error:
        raise Rejection(str(error), request) from None
    return request


def copy_workdir(s3: S3Client, upload: Upload, bucket: str, workdir: str) -> str | None:
    """Copy the upload to the run's workdir.zip; the copy's version, which is the inputs' for good (the job's
    results go up as a later version of the key). Copy, never move: the inbox copy expires by lifecycle,
    and writing under inbox/ would start another run."""
    s3.copy(
        {"Bucket": upload.bucket, "Key": upload.key, **_version(upload)},
        bucket,
        workdir,
        ExtraArgs={"ContentType": "application/zip", "MetadataDirective": "REPLACE"},
    )
    return s3.head_object(Bucket=bucket, Key=workdir).get("VersionId")


def envd_for_job(event: PrepareInput, request: BuildRequest, bucket: str, s3: S3Client) -> str | None:
    """The URL of the run's env.d.zip, moved there from inbox/, when the build sent variables; else Rejection."""
    if not request.envd_version:
        return None
    try:
        return move_envd(s3, event.upload, request.envd_version, bucket, envd_key(event.run_id, event.owner))
    except EnvdMissing as error:
        raise Rejection(str(error), request.model_copy(update={"envd_version": None})) from None


def prepare(
    event: PrepareInput, settings: Settings, *, s3: S3Client, batch: BatchClient, iam: IAMClient
) -> PrepareResult:
    existing = find_record(s3, settings.bucket, event.run_id, event.owner)
    if existing is not None and existing.status.is_final:
        # A retried or replayed step: the run's outcome is recorded already.
        return PrepareResult(accepted=False, reason=existing.reason, job=None, record=existing)
    workdir = workdir_key(event.run_id, event.owner)
    try:
        request = checked_request(event, settings, s3)
        # The build's code runs as its owner's own job role, which reaches only the owner's runs.
        role = ensure_job_role(iam, settings.job_roles(), event.owner)
        job_definition = definition_for_run(
            batch, settings.job_definition, role_arn=role.arn, owner=event.owner, image=request.image
        )
        input_version = copy_workdir(s3, event.upload, settings.bucket, workdir)
        envd_url = envd_for_job(event, request, settings.bucket, s3)
    except Rejection as rejection:
        return reject(event, rejection.reason, rejection.request, settings, s3)
    wait_until_usable(role)  # a person's first run: until IAM has made the new role known to ECS
    record = _new_record(event, request, RunStatus.SUBMITTED, settings).model_copy(
        update={"input_version": input_version, "submitted_at": existing.submitted_at if existing else utc_now()}
    )
    write_record(s3, settings.bucket, record)
    job = submit_job_parameters(
        request,
        job_name=event.run_id,
        job_queue=settings.job_queue,
        job_definition=job_definition,
        workdir_url=s3_url(settings.bucket, workdir),
        region=settings.region,  # the Lambda's own: the job's bucket is in this region
        envd_url=envd_url,
    )
    return PrepareResult(accepted=True, reason=None, job=JobRequest.model_validate(job), record=record)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    parsed = PrepareInput.model_validate(event)
    logger.append_keys(run_id=parsed.run_id)
    result = prepare(parsed, current_settings(), s3=client("s3"), batch=client("batch"), iam=client("iam"))
    logger.info("prepared run", extra={"accepted": result.accepted, "reason": result.reason})
    return result.model_dump(mode="json")
