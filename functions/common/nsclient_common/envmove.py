"""Moving a build's env.d (its environment variables, sent beside the upload as inbox/<owner>/<name>.env.d)
into the run's folder for the job, or deleting it when the run is rejected: secrets are not left lying in
inbox/. Each version is deleted for good: a plain delete in a versioned bucket would keep it as a
noncurrent version."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from nsclient_common.layout import envd_key_for_upload, s3_url
from nsclient_common.s3errors import error_code, is_missing

if TYPE_CHECKING:
    from types_boto3_s3 import S3Client

    from nsclient_common.execution import Upload


class EnvdMissing(Exception):
    """The upload names an env.d that is not there (nor already moved into the run's folder)."""


def _missing(error: ClientError) -> bool:
    # InvalidArgument: a version id that can't be one, as anyone may set the metadata naming it.
    return is_missing(error) or error_code(error) == "InvalidArgument"


def move_envd(s3: S3Client, upload: Upload, version_id: str, bucket: str, target: str) -> str:
    """Copy the upload's env.d to `target` (the run's env.d.zip) and delete that version from inbox/;
    returns the copy's URL."""
    source = envd_key_for_upload(upload.key)
    try:
        s3.copy_object(
            CopySource={"Bucket": upload.bucket, "Key": source, "VersionId": version_id},
            Bucket=bucket,
            Key=target,
            ContentType="application/zip",
            MetadataDirective="REPLACE",
        )
    except ClientError as error:
        if not _missing(error):
            raise
        if not _exists(s3, bucket, target):  # else a retried step: moved already
            raise EnvdMissing(
                f"The build's environment variables ({source}, version {version_id}) are missing: push it again."
            ) from None
    s3.delete_object(Bucket=upload.bucket, Key=source, VersionId=version_id)
    return s3_url(bucket, target)


def discard_envd(s3: S3Client, upload: Upload, version_id: str | None) -> None:
    """Delete the upload's env.d version, if it names one (a rejected run's variables go nowhere)."""
    if not version_id:
        return
    try:
        s3.delete_object(Bucket=upload.bucket, Key=envd_key_for_upload(upload.key), VersionId=version_id)
    except ClientError as error:
        if not _missing(error):
            raise


def _exists(s3: S3Client, bucket: str, key: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if _missing(error):
            return False
        raise
    return True
