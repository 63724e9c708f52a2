"""Streaming S3 I/O against moto: ranged reads of an upload, multipart writes of a log."""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from nsclient_common.s3io import PART_SIZE, MultipartWriter, S3RangeReader, open_s3_object
from nsclient_common.settings import Limits
from nsclient_common.zipcheck import check_build_archive
from tests.support import SNAKEFILE_OK, zip_bytes

BUCKET = "nsclient-unit-s3io"


@pytest.fixture(scope="module")
def mocked_s3() -> Iterator[Any]:
    """moto in this process. Not `with mock_aws()`: entering and leaving it resets every moto backend of the
    process, which would wipe the session's local backend (a moto server in this same process)."""
    mock = mock_aws()
    with pytest.MonkeyPatch.context() as patch:
        # The local backend points every client at its server; these tests use moto in-process.
        patch.delenv("AWS_ENDPOINT_URL", raising=False)
        mock.start(reset=False)
        try:
            yield boto3.client("s3", region_name="us-east-1")
        finally:
            mock.stop(remove_data=False)


@pytest.fixture
def s3(mocked_s3: Any) -> Iterator[Any]:
    """A client and an empty, versioned bucket of the test's own."""
    mocked_s3.create_bucket(Bucket=BUCKET)
    mocked_s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    yield mocked_s3
    for upload in mocked_s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []):
        mocked_s3.abort_multipart_upload(Bucket=BUCKET, Key=upload["Key"], UploadId=upload["UploadId"])
    versions = mocked_s3.list_object_versions(Bucket=BUCKET)
    for entry in versions.get("Versions", []) + versions.get("DeleteMarkers", []):
        mocked_s3.delete_object(Bucket=BUCKET, Key=entry["Key"], VersionId=entry["VersionId"])
    mocked_s3.delete_bucket(Bucket=BUCKET)


class CountingS3:
    """The client, counting the bytes its GETs return."""

    def __init__(self, s3: Any):
        self.s3, self.bytes_read, self.gets = s3, 0, 0

    def get_object(self, **kwargs: Any) -> dict[str, Any]:
        response = self.s3.get_object(**kwargs)
        body = response["Body"].read()
        self.bytes_read += len(body)
        self.gets += 1
        response["Body"] = io.BytesIO(body)
        return response

    def head_object(self, **kwargs: Any) -> dict[str, Any]:
        result: dict[str, Any] = self.s3.head_object(**kwargs)
        return result


def test_s3_range_reader_reads_seeks_and_tells_like_a_file(s3: Any) -> None:
    content = bytes(range(256)) * 40
    s3.put_object(Bucket=BUCKET, Key="inbox/a.zip", Body=content)
    reader = S3RangeReader(s3, BUCKET, "inbox/a.zip")

    assert reader.size == len(content)
    assert reader.read(10) == content[:10]
    assert reader.tell() == 10
    reader.seek(-5, io.SEEK_END)
    assert reader.read() == content[-5:]
    assert reader.read(10) == b""  # at the end
    reader.seek(100)
    reader.seek(20, io.SEEK_CUR)
    assert reader.read(3) == content[120:123]
    reader.seek(-10_000_000, io.SEEK_END)
    assert reader.tell() == 0
    reader.seek(len(content) + 50)
    assert reader.read(4) == b""


def test_s3_range_reader_reads_the_version_it_was_given(s3: Any) -> None:
    first = s3.put_object(Bucket=BUCKET, Key="inbox/a.zip", Body=b"first upload")["VersionId"]
    s3.put_object(Bucket=BUCKET, Key="inbox/a.zip", Body=b"second, longer upload")

    assert open_s3_object(s3, BUCKET, "inbox/a.zip", first).read() == b"first upload"
    assert open_s3_object(s3, BUCKET, "inbox/a.zip").read() == b"second, longer upload"
    assert open_s3_object(s3, BUCKET, "inbox/a.zip", "null").read() == b"second, longer upload"


def test_s3_range_reader_reads_an_empty_object(s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key="inbox/empty.zip", Body=b"")
    assert open_s3_object(s3, BUCKET, "inbox/empty.zip").read() == b""


def test_check_build_archive_over_s3_reads_the_central_directory_not_the_upload(s3: Any) -> None:
    # Given a 6 MiB upload, mostly one incompressible data file
    body = zip_bytes({"Snakefile": SNAKEFILE_OK, "data/random.bin": os.urandom(6 * 1024 * 1024)})
    s3.put_object(Bucket=BUCKET, Key="inbox/big.zip", Body=body)
    counting = CountingS3(s3)

    # When it is checked through ranged reads
    with open_s3_object(counting, BUCKET, "inbox/big.zip", size=len(body)) as archive:
        checked = check_build_archive(archive, len(body), Limits())

    # Then it is accepted having fetched a small part of it
    assert checked.snakefile == "Snakefile"
    assert counting.bytes_read < len(body) // 10
    assert counting.gets <= 3


def test_open_s3_object_gives_zipfile_a_readable_archive(s3: Any) -> None:
    body = zip_bytes({"Snakefile": SNAKEFILE_OK, "data/x.txt": "hello\n"})
    s3.put_object(Bucket=BUCKET, Key="inbox/a.zip", Body=body)
    with open_s3_object(s3, BUCKET, "inbox/a.zip") as raw, zipfile.ZipFile(raw) as archive:
        assert archive.read("data/x.txt") == b"hello\n"


def test_multipart_writer_puts_a_small_object_in_one_request(s3: Any) -> None:
    with MultipartWriter(s3, BUCKET, "runs/r/logs/build.log") as out:
        out.write(b"line one\n")
        out.write(b"line two\n")

    obj = s3.get_object(Bucket=BUCKET, Key="runs/r/logs/build.log")
    assert obj["Body"].read() == b"line one\nline two\n"
    assert obj["ContentType"] == "text/plain; charset=utf-8"
    assert "-" not in obj["ETag"]  # not a multipart ETag
    assert out.bytes_written == 18


def test_multipart_writer_writes_an_empty_object(s3: Any) -> None:
    with MultipartWriter(s3, BUCKET, "runs/r/logs/build.log"):
        pass
    assert s3.get_object(Bucket=BUCKET, Key="runs/r/logs/build.log")["Body"].read() == b""


def test_multipart_writer_writes_a_large_object_in_parts(s3: Any) -> None:
    # Given more than two parts' worth of lines, written a line at a time
    line = b"x" * 1023 + b"\n"
    count = (2 * PART_SIZE + 5000) // len(line)

    # When written
    with MultipartWriter(s3, BUCKET, "runs/r/logs/build.log") as out:
        for _ in range(count):
            out.write(line)

    # Then the object is whole, went up in 3 parts, and no upload was left open
    obj = s3.get_object(Bucket=BUCKET, Key="runs/r/logs/build.log")
    assert obj["Body"].read() == line * count
    assert obj["ETag"].strip('"').endswith("-3")
    assert obj["ContentType"] == "text/plain; charset=utf-8"
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []


def test_multipart_writer_writes_exactly_one_part(s3: Any) -> None:
    with MultipartWriter(s3, BUCKET, "runs/r/workdir.bin", content_type="application/octet-stream") as out:
        out.write(b"y" * PART_SIZE)
    obj = s3.get_object(Bucket=BUCKET, Key="runs/r/workdir.bin")
    assert obj["ContentLength"] == PART_SIZE
    assert obj["ContentType"] == "application/octet-stream"


def test_multipart_writer_aborts_and_leaves_nothing_on_error(s3: Any) -> None:
    # Given a write that fails after a part went up
    with pytest.raises(RuntimeError, match="log stream vanished"), MultipartWriter(s3, BUCKET, "runs/r/x.log") as out:
        out.write(b"z" * (PART_SIZE + 1))
        raise RuntimeError("log stream vanished")

    # Then there is no object and no open multipart upload costing storage
    assert s3.list_objects_v2(Bucket=BUCKET, Prefix="runs/r/").get("KeyCount") == 0
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []


def test_a_zips_directory_read_through_a_tail_costs_one_get(s3: Any) -> None:
    # Given a zip of 3,000 files behind 2 MiB of data that does not shrink
    files: dict[str, str | bytes] = {"Snakefile": SNAKEFILE_OK, "data/random.bin": os.urandom(2 * 1024 * 1024)}
    files |= {f"results/s{i:05d}.json": f'{{"i": {i}}}' for i in range(3000)}
    body = zip_bytes(files)
    s3.put_object(Bucket=BUCKET, Key="runs/r/workdir.zip", Body=body)

    # When zipfile reads its directory, with and without the last 1 MiB fetched at once
    counts = {}
    for tail in (0, 1024 * 1024):
        counting = CountingS3(s3)
        with open_s3_object(counting, BUCKET, "runs/r/workdir.zip", size=len(body), tail=tail) as raw:
            with zipfile.ZipFile(raw) as archive:
                assert {m.filename: m.CRC for m in archive.infolist()} == {
                    m.filename: m.CRC for m in zipfile.ZipFile(io.BytesIO(body)).infolist()
                }
                assert archive.read("results/s00007.json") == b'{"i": 7}'  # within the tail
                assert archive.read("Snakefile") == SNAKEFILE_OK.encode()  # before it: a ranged read
        counts[tail] = counting.gets

    # Then the tail answers the directory in one GET where plain ranged reads take several
    assert counts[1024 * 1024] == 2  # the tail, then the Snakefile
    assert counts[0] > counts[1024 * 1024]
