"""Policy variables are a feature of the 2012-10-17 policy language: in a policy of version 2008-10-17
(or one naming no version, which AWS reads as 2008-10-17) `${aws:userid}` is the literal text. Shown
with bucket policies (moto refuses identity policies older than 2012-10-17; S3 takes both)."""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from nsclient.local.principals import create_user

if TYPE_CHECKING:
    from tests.support import Backend

LITERAL = "${aws:userid}"


def _reader(backend: Backend, version: str | None) -> tuple[Any, str, str]:
    """A new user, with no policy of their own, and a new bucket whose policy (of this version) lets them
    read ${aws:userid}/*: their S3 client, the bucket and their id."""
    name = f"policy-{uuid.uuid4().hex[:8]}"
    credentials = create_user(backend.client("iam"), name, [])
    identity = backend.client_as("sts", credentials).get_caller_identity()
    s3 = backend.client("s3")
    s3.create_bucket(Bucket=name)
    policy: dict[str, Any] = {
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": identity["Arn"]},
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{name}/{LITERAL}/*",
            }
        ]
    }
    if version is not None:
        policy["Version"] = version
    s3.put_bucket_policy(Bucket=name, Policy=json.dumps(policy))
    for folder in (identity["UserId"], LITERAL):
        s3.put_object(Bucket=name, Key=f"{folder}/x", Body=b"x")
    return backend.client_as("s3", credentials), name, identity["UserId"]


def _can_read(s3: Any, bucket: str, key: str) -> bool:
    try:
        s3.get_object(Bucket=bucket, Key=key)
    except ClientError as error:
        assert error.response["Error"]["Code"] == "AccessDenied"
        return False
    return True


def test_a_2012_policy_substitutes_the_callers_id(local_backend: Backend) -> None:
    s3, bucket, userid = _reader(local_backend, "2012-10-17")
    assert _can_read(s3, bucket, f"{userid}/x")
    assert not _can_read(s3, bucket, f"{LITERAL}/x")


def test_a_2008_policy_leaves_variables_literal(local_backend: Backend) -> None:
    s3, bucket, userid = _reader(local_backend, "2008-10-17")
    assert not _can_read(s3, bucket, f"{userid}/x")
    assert _can_read(s3, bucket, f"{LITERAL}/x")


def test_a_policy_without_a_version_is_read_as_2008(local_backend: Backend) -> None:
    s3, bucket, userid = _reader(local_backend, None)
    assert not _can_read(s3, bucket, f"{userid}/x")
    assert _can_read(s3, bucket, f"{LITERAL}/x")


def test_a_users_inline_policy_is_judged_with_its_variables(local_backend: Backend) -> None:
    bucket = local_backend.info.bucket
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/policy-versions/{LITERAL}/*",
            }
        ],
    }
    credentials = create_user(local_backend.client("iam"), f"inline-{uuid.uuid4().hex[:8]}", [], inline=policy)
    userid = local_backend.client_as("sts", credentials).get_caller_identity()["UserId"]
    for folder in (userid, "someone-else"):
        local_backend.client("s3").put_object(Bucket=bucket, Key=f"policy-versions/{folder}/x", Body=b"x")
    s3 = local_backend.client_as("s3", credentials)
    assert _can_read(s3, bucket, f"policy-versions/{userid}/x")
    assert not _can_read(s3, bucket, "policy-versions/someone-else/x")
