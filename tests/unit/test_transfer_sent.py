"""The upload counts the bytes its connections take (the link's pace, which push's level choice reads), not
the reads botocore makes first for the part's checksum and signature."""

from __future__ import annotations

import io
import random
import socket
import subprocess
import sys
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from nsclient.local.daemon import free_port
from nsclient.transfer.upload import PART_SIZE, StreamingUpload, _PartBody
from tests.support import wait_until

if TYPE_CHECKING:
    from collections.abc import Iterator

BUCKET = "nsclient-transfer-sent-tests"


def _answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), 0.5).close()
    except OSError:
        return False
    return True


@pytest.fixture
def s3() -> Iterator[Any]:
    """A client of an S3 server of the test's own (moto's, in its own process): the parts go over a real
    connection, as to AWS, where moto in this process would hand botocore a response without sending."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: _answers(port), timeout=60, what="the S3 server answers")
        factory: Any = boto3.client
        client = factory(
            "s3",
            endpoint_url=f"http://127.0.0.1:{port}",
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        client.create_bucket(Bucket=BUCKET)
        yield client
    finally:
        server.terminate()
        server.wait()


def test_a_part_counts_only_what_is_read_once_sending_began_and_a_retry_takes_it_back() -> None:
    counted: list[int] = []
    body = _PartBody(b"x" * 1000, counted.append)
    assert body.read() == b"x" * 1000  # the checksum's read
    body.seek(0)
    assert sum(counted) == 0
    body.sending = True
    body.read(300)
    body.read(200)
    assert sum(counted) == 500
    body.seek(0, io.SEEK_SET)  # a retry starts over
    assert sum(counted) == 0
    assert body.read() == b"x" * 1000
    assert sum(counted) == 1000


def test_parts_sent_are_counted_once_each(s3: Any) -> None:
    data = random.Random(4).randbytes(2 * PART_SIZE + 1000)
    with StreamingUpload(s3, BUCKET, "inbox/counted.zip", {}) as upload:
        upload.write(data)
        assert upload.unsent() + upload.sent() == 2 * PART_SIZE  # two parts made, the rest fills a third
        wait_until(lambda: upload.backlog() == 1000, timeout=60, what="both parts stored")
        assert upload.sent() == 2 * PART_SIZE
        assert upload.unsent() == 0
    assert upload.sent() == len(data)
    assert s3.get_object(Bucket=BUCKET, Key="inbox/counted.zip")["Body"].read() == data
