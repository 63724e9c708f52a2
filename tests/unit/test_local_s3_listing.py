"""The local backend's ListObjectsV2 (s3_listing.py) answers as moto's own does, page for page."""

from __future__ import annotations

import random
from typing import Any

import boto3
import pytest
from moto.s3.models import S3Backend

from nsclient.local import s3_listing

MOTO_LIST_OBJECTS_V2 = getattr(S3Backend.list_objects_v2, "__wrapped__", S3Backend.list_objects_v2)


def _random_bucket(s3: Any, rng: random.Random) -> tuple[str, list[str]]:
    """A versioned bucket of folders and files, some deleted (a delete marker on top) and some rewritten."""
    bucket = "listing-equivalence"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    parts = ["a", "b", "ab", "a-b", "a.b", "z", "0", "9", "é", "runs", "index", "~", "!x"]
    keys = sorted({"/".join(rng.choice(parts) for _ in range(rng.randint(1, 4))) for _ in range(400)})
    keys += ["a/", "a//b", "/lead", "trail/"]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=b"x" * rng.randint(0, 3))
    for key in rng.sample(keys, 60):
        s3.delete_object(Bucket=bucket, Key=key)
    for key in rng.sample(keys, 30):
        s3.put_object(Bucket=bucket, Key=key, Body=b"again")
    return bucket, keys


def _pages(s3: Any, **request: Any) -> list[dict[str, Any]]:
    pages = []
    while True:
        page = s3.list_objects_v2(**request)
        page.pop("ResponseMetadata")
        pages.append(page)
        if not page.get("NextContinuationToken"):
            return pages
        request["ContinuationToken"] = page["NextContinuationToken"]


def test_every_page_is_motos_own(moto_account: str, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(11)
    s3 = boto3.client("s3", region_name="us-east-1")
    bucket, keys = _random_bucket(s3, rng)
    answered = []

    def fixed(
        self: Any, bucket: Any, prefix: Any, delimiter: Any, continuation_token: Any, start_after: Any, max_keys: Any
    ) -> Any:
        arguments = (bucket, prefix, delimiter, continuation_token, start_after, max_keys)
        answer = s3_listing.list_objects_v2(self, *arguments)
        answered.append(answer is not None)
        return answer or MOTO_LIST_OBJECTS_V2(self, *arguments)

    requests: list[dict[str, Any]] = [
        {},
        {"Delimiter": "/"},
        {"MaxKeys": 0},
        {"Prefix": "a/", "Delimiter": "/", "MaxKeys": 1},
    ]
    for _ in range(60):
        request: dict[str, Any] = {"MaxKeys": rng.choice([3, 7, 50, 1000])}
        if rng.random() < 0.7:
            request["Prefix"] = rng.choice(["", "a", "a/", "ab/", "runs/", "z/a", "é", "nothing-here/"])
        if rng.random() < 0.7:
            request["Delimiter"] = rng.choice(["/", "b", "ab", "-", "/a/"])
        if rng.random() < 0.4:
            request["StartAfter"] = rng.choice([*rng.sample(keys, 3), "a", "a/", "b/", "zzz", "!"])
        requests.append(request)
    for request in requests:
        monkeypatch.setattr(S3Backend, "list_objects_v2", MOTO_LIST_OBJECTS_V2)
        expected = _pages(s3, Bucket=bucket, **request)
        monkeypatch.setattr(S3Backend, "list_objects_v2", fixed)
        assert _pages(s3, Bucket=bucket, **request) == expected, request
    assert answered and all(answered)  # never handed back to moto's own: every page above was s3_listing's
