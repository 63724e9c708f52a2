"""What counts as "the object is not there" (nsclient_common.s3errors), for every reader of S3."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError

from nsclient_common.s3errors import error_code, is_missing


def failed(code: str, operation: str = "GetObject") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "..."}}, operation)


@pytest.mark.parametrize("code", ["NoSuchKey", "NoSuchVersion", "404", "NotFound"])
def test_a_missing_object_or_version_is_missing(code: str) -> None:
    assert is_missing(failed(code))


@pytest.mark.parametrize("code", ["AccessDenied", "403", "InvalidRange", "SlowDown", ""])
def test_other_errors_are_not_missing(code: str) -> None:
    assert not is_missing(failed(code))


def test_moto_head_and_get_of_a_missing_key_are_missing(moto_account: str) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="builds")
    for read in (s3.get_object, s3.head_object):
        with pytest.raises(ClientError) as raised:
            read(Bucket="builds", Key="runs/none/run.json")
        assert is_missing(raised.value), error_code(raised.value)
