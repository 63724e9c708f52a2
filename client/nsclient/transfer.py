"""Upload and download of build archives with progress; uploads return the object version,
which names the run."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from nsclient.progress import Progress

if TYPE_CHECKING:
    from pathlib import Path

PART_SIZE = 16 * 1024 * 1024
CONCURRENCY = 4


def upload_file(s3: Any, path: Path, bucket: str, key: str, metadata: dict[str, str], progress: Progress) -> str | None:
    """Put one file, in parallel parts when large; returns the new object's VersionId."""
    size = path.stat().st_size
    if size <= PART_SIZE:
        body = path.read_bytes()
        response = s3.put_object(Bucket=bucket, Key=key, Body=body, Metadata=metadata, ContentType="application/zip")
        progress.update(size)
        progress.finish()
        return response.get("VersionId")

    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key, Metadata=metadata, ContentType="application/zip")[
        "UploadId"
    ]

    def send(number: int) -> dict[str, Any]:
        with path.open("rb") as handle:
            handle.seek((number - 1) * PART_SIZE)
            chunk = handle.read(PART_SIZE)
        etag = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=chunk)["ETag"]
        progress.update(len(chunk))
        return {"ETag": etag, "PartNumber": number}

    try:
        with ThreadPoolExecutor(CONCURRENCY) as pool:
            parts = list(pool.map(send, range(1, (size + PART_SIZE - 1) // PART_SIZE + 1)))
        response = s3.complete_multipart_upload(
            Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
        )
    except BaseException:
        # Leave no half upload behind, also on Ctrl-C (the bucket's lifecycle would expire it anyway).
        s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
        raise
    progress.finish()
    return response.get("VersionId")


def download_file(s3: Any, bucket: str, key: str, path: Path, progress_label: str, quiet: bool) -> None:
    size = s3.head_object(Bucket=bucket, Key=key)["ContentLength"]
    progress = Progress(progress_label, size, quiet=quiet)
    s3.download_file(bucket, key, str(path), Callback=progress.update)
    progress.finish()
