"""Moving a build's env.d out of inbox/ (nsclient_common.envmove): into the run's folder for the job, every
version of it gone from inbox/, or deleted when the run is rejected; a missing one is a clear refusal."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from nsclient_common.envdir import to_archive
from nsclient_common.envmove import EnvdMissing, discard_envd, move_envd
from nsclient_common.execution import Upload
from nsclient_common.layout import envd_key, inbox_envd_key, inbox_key

BUCKET = "builds"
OWNER = "AIDAEXAMPLEOWNER01"
RUN_ID = "zika-0123456789"
UPLOAD = Upload(bucket=BUCKET, key=inbox_key("zika", OWNER))
TARGET = envd_key(RUN_ID, OWNER)


@pytest.fixture
def s3(moto_account: str) -> Any:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    return s3


def sent_envd(s3: Any) -> str:
    put = s3.put_object(Bucket=BUCKET, Key=inbox_envd_key("zika", OWNER), Body=to_archive({"TOKEN": "secret"}))
    return str(put["VersionId"])


def versions_in_inbox(s3: Any) -> list[str]:
    listed = s3.list_object_versions(Bucket=BUCKET, Prefix=inbox_envd_key("zika", OWNER))
    return [v["VersionId"] for v in listed.get("Versions", []) + listed.get("DeleteMarkers", [])]


def test_the_envd_moves_to_the_run_and_leaves_no_version_in_inbox(s3: Any) -> None:
    version = sent_envd(s3)

    url = move_envd(s3, UPLOAD, version, BUCKET, TARGET)

    assert url == f"s3://{BUCKET}/{TARGET}"
    assert s3.get_object(Bucket=BUCKET, Key=TARGET)["Body"].read() == to_archive({"TOKEN": "secret"})
    assert versions_in_inbox(s3) == []


def test_a_retried_move_finds_it_moved_already(s3: Any) -> None:
    version = sent_envd(s3)
    move_envd(s3, UPLOAD, version, BUCKET, TARGET)

    assert move_envd(s3, UPLOAD, version, BUCKET, TARGET) == f"s3://{BUCKET}/{TARGET}"


@pytest.mark.parametrize("version", ["3HL4kqtJlcpXroDTDmJ-rmSpXd3dIbrHY", "not a version"])
def test_an_envd_that_is_not_there_is_refused_saying_which(s3: Any, version: str) -> None:
    with pytest.raises(EnvdMissing, match=r"environment variables \(inbox/AIDAEXAMPLEOWNER01/zika.env.d, version"):
        move_envd(s3, UPLOAD, version, BUCKET, TARGET)
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix=TARGET)


def test_a_rejected_runs_envd_is_deleted_and_a_missing_one_is_no_error(s3: Any) -> None:
    discard_envd(s3, UPLOAD, sent_envd(s3))
    assert versions_in_inbox(s3) == []

    discard_envd(s3, UPLOAD, "3HL4kqtJlcpXroDTDmJ-rmSpXd3dIbrHY")
    discard_envd(s3, UPLOAD, None)
