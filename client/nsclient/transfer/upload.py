"""A build archive uploaded while it is being written; the upload returns the object version,
which names the run."""

from __future__ import annotations

import io
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

# Four parts in flight fill a 100 Mbit/s link with 40 ms round trips about as well as ten do (11.2 MB/s of
# its 12, against 11.3, where one part at a time reaches 7.1), and keep push's memory under 200 MB.
CONCURRENCY = 4
PART_SIZE = 8 * 1024 * 1024  # S3 needs >= 5 MiB for every part but the last
_COUNT_SENT = "nsclient-count-sent"


class _PartBody(io.BytesIO):
    """A part's bytes as botocore sends them, counting what the connection takes. Counting starts when the
    request is sent: the checksum and the signature read the body first, then rewind it."""

    def __init__(self, data: bytes, counted: Callable[[int], None]) -> None:
        super().__init__(data)
        self._counted = counted
        self.sending = False

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        if self.sending:
            self._counted(len(data))
        return data

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        before = self.tell()
        position = super().seek(offset, whence)
        if self.sending:  # a retry starts the part over: what its first try sent is taken back
            self._counted(position - before)
        return position


def _start_counting(request: Any, **_: Any) -> None:
    if isinstance(request.body, _PartBody):
        request.body.sending = True


class StreamingUpload:
    """An object written as a stream, sent in parts while later bytes are still being produced.

    At most CONCURRENCY parts are in flight (and one filling), so memory stays bounded; an object
    that never fills a part goes up in a single PutObject. Use as a context manager: leaving it
    with an error (or Ctrl-C) aborts the multipart upload.
    """

    def __init__(self, s3: Any, bucket: str, key: str, metadata: dict[str, str]):
        self._s3, self._bucket, self._key, self._metadata = s3, bucket, key, metadata
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[Future[dict[str, Any]]] = []
        self._slots = threading.BoundedSemaphore(CONCURRENCY)
        self._pool = ThreadPoolExecutor(CONCURRENCY, thread_name_prefix="upload")
        self.size = 0
        self.version: str | None = None
        self._acknowledged = 0
        self._sent = 0  # handed to the connections: what the link took, within a socket buffer
        self._parted = 0  # cut into parts (the rest fills the next part)
        self._acknowledged_lock = threading.Lock()
        s3.meta.events.register("before-send.s3.UploadPart", _start_counting, unique_id=_COUNT_SENT)

    def backlog(self) -> int:
        """Bytes written but not yet stored by S3: grows when the link, not the writer, is the bottleneck."""
        with self._acknowledged_lock:
            return self.size - self._acknowledged

    def sent(self) -> int:
        """Bytes the connections have taken so far (parts of a multipart upload): the link's pace, byte by byte,
        where S3's acknowledgements come a part at a time."""
        with self._acknowledged_lock:
            return self._sent

    def unsent(self) -> int:
        """Bytes of parts made that no connection has taken yet: more than a part's worth, and the link lags."""
        with self._acknowledged_lock:
            return self._parted - self._sent

    def _count_sent(self, size: int) -> None:
        with self._acknowledged_lock:
            self._sent += size

    def write(self, data: bytes) -> None:
        self._buffer += data
        self.size += len(data)
        while len(self._buffer) >= PART_SIZE:
            part = bytes(self._buffer[:PART_SIZE])
            del self._buffer[:PART_SIZE]
            self._parted += len(part)
            self._send(part)

    def _send(self, part: bytes) -> None:
        if self._upload_id is None:
            self._upload_id = self._s3.create_multipart_upload(
                Bucket=self._bucket, Key=self._key, Metadata=self._metadata, ContentType="application/zip"
            )["UploadId"]
        for earlier in self._parts:
            if earlier.done() and earlier.exception() is not None:
                raise earlier.exception()  # type: ignore[misc]
        self._slots.acquire()
        number = len(self._parts) + 1
        self._parts.append(self._pool.submit(self._upload_part, number, part))

    def _upload_part(self, number: int, part: bytes) -> dict[str, Any]:
        try:
            etag = self._s3.upload_part(
                Bucket=self._bucket,
                Key=self._key,
                UploadId=self._upload_id,
                PartNumber=number,
                Body=_PartBody(part, self._count_sent),
            )["ETag"]
            with self._acknowledged_lock:
                self._acknowledged += len(part)
        finally:
            self._slots.release()
        return {"ETag": etag, "PartNumber": number}

    def _close(self) -> None:
        if self._upload_id is None:
            response = self._s3.put_object(
                Bucket=self._bucket,
                Key=self._key,
                Body=bytes(self._buffer),
                Metadata=self._metadata,
                ContentType="application/zip",
            )
        else:
            if self._buffer:
                self._parted += len(self._buffer)
                self._send(bytes(self._buffer))
            parts = [future.result() for future in self._parts]
            response = self._s3.complete_multipart_upload(
                Bucket=self._bucket, Key=self._key, UploadId=self._upload_id, MultipartUpload={"Parts": parts}
            )
        self._buffer.clear()
        with self._acknowledged_lock:
            self._acknowledged = self._sent = self._parted = self.size
        self.version = response.get("VersionId")

    def __enter__(self) -> StreamingUpload:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            if exc_type is None:
                self._close()
        except BaseException:
            self._abort()
            raise
        else:
            if exc_type is not None:
                self._abort()
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def _abort(self) -> None:
        # Leave no half upload behind, also on Ctrl-C (the bucket's lifecycle would expire it anyway).
        for future in self._parts:
            future.cancel()
        if self._upload_id is not None:
            self._s3.abort_multipart_upload(Bucket=self._bucket, Key=self._key, UploadId=self._upload_id)
