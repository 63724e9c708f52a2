"""Streaming S3 I/O: read a zip's central directory with ranged GETs, write large objects in parts.

Both keep memory bounded whatever the object's size, which a Lambda with 512 MiB needs when
builds upload gigabytes and logs run to millions of lines.
"""

from __future__ import annotations

import io
from typing import Any

PART_SIZE = 8 * 1024 * 1024  # S3 needs >= 5 MiB for every part but the last


class S3RangeReader(io.RawIOBase):
    """A seekable, read-only file over one S3 object version, fetched by byte range on demand.

    With `tail`, the object's last `tail` bytes are fetched in one GET the first time a read reaches
    them: a zip's end records and central directory, which zipfile otherwise reads in several."""

    def __init__(
        self, s3: Any, bucket: str, key: str, version_id: str | None = None, size: int | None = None, tail: int = 0
    ):
        self._s3, self._bucket, self._key = s3, bucket, key
        self._version = {"VersionId": version_id} if version_id and version_id != "null" else {}
        if size is None:
            size = s3.head_object(Bucket=bucket, Key=key, **self._version)["ContentLength"]
        self.size: int = size
        self._pos = 0
        self.requests = 0
        self._tail_start = max(0, size - tail) if tail else size
        self._tail: bytes | None = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def _get(self, start: int, end: int) -> bytes:
        """Bytes start..end, inclusive."""
        self.requests += 1
        return bytes(
            self._s3.get_object(Bucket=self._bucket, Key=self._key, Range=f"bytes={start}-{end}", **self._version)[
                "Body"
            ].read()
        )

    def readinto(self, buffer: Any) -> int:
        if self._pos >= self.size or len(buffer) == 0:
            return 0
        end = min(self.size, self._pos + len(buffer)) - 1
        if self._pos >= self._tail_start:
            if self._tail is None:
                self._tail = self._get(self._tail_start, self.size - 1)
            body = self._tail[self._pos - self._tail_start : end + 1 - self._tail_start]
        else:
            body = self._get(self._pos, end)
        buffer[: len(body)] = body
        self._pos += len(body)
        return len(body)


def open_s3_object(
    s3: Any, bucket: str, key: str, version_id: str | None = None, size: int | None = None, tail: int = 0
) -> io.BufferedReader:
    return io.BufferedReader(S3RangeReader(s3, bucket, key, version_id, size, tail), buffer_size=256 * 1024)


class MultipartWriter:
    """Write an object of unknown length in parts; small ones go up in a single PutObject."""

    def __init__(self, s3: Any, bucket: str, key: str, content_type: str = "text/plain; charset=utf-8"):
        self._s3, self._bucket, self._key, self._type = s3, bucket, key, content_type
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []
        self.bytes_written = 0

    def write(self, data: bytes) -> None:
        self._buffer += data
        self.bytes_written += len(data)
        if len(self._buffer) >= PART_SIZE:
            self._flush_part()

    def _flush_part(self) -> None:
        if self._upload_id is None:
            self._upload_id = self._s3.create_multipart_upload(
                Bucket=self._bucket, Key=self._key, ContentType=self._type
            )["UploadId"]
        number = len(self._parts) + 1
        etag = self._s3.upload_part(
            Bucket=self._bucket, Key=self._key, UploadId=self._upload_id, PartNumber=number, Body=bytes(self._buffer)
        )["ETag"]
        self._parts.append({"ETag": etag, "PartNumber": number})
        self._buffer.clear()

    def close(self) -> None:
        if self._upload_id is None:
            self._s3.put_object(Bucket=self._bucket, Key=self._key, Body=bytes(self._buffer), ContentType=self._type)
            return
        if self._buffer:
            self._flush_part()
        self._s3.complete_multipart_upload(
            Bucket=self._bucket, Key=self._key, UploadId=self._upload_id, MultipartUpload={"Parts": self._parts}
        )

    def abort(self) -> None:
        if self._upload_id is not None:
            self._s3.abort_multipart_upload(Bucket=self._bucket, Key=self._key, UploadId=self._upload_id)

    def __enter__(self) -> MultipartWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
