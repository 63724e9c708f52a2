"""Keep the local bucket on disk, so finished runs survive `nsclient local stop` and `start`."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from nsclient_common.layout import RUNS_PREFIX, run_prefix
from nsclient_common.record import FailureClass, RunRecord, RunStatus, utc_now

if TYPE_CHECKING:
    from pathlib import Path

_META_SUFFIX = ".nsclient-meta.json"


def save_prefix(s3: Any, bucket: str, prefix: str, directory: Path) -> int:
    """Write every current object under prefix to directory/<key>, with its metadata beside it."""
    count = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for entry in page.get("Contents", []):
            key = entry["Key"]
            target = directory / key
            target.parent.mkdir(parents=True, exist_ok=True)
            response = s3.get_object(Bucket=bucket, Key=key)
            partial = target.with_name(target.name + ".partial")
            with partial.open("wb") as handle:
                for chunk in response["Body"].iter_chunks(1024 * 1024):
                    handle.write(chunk)
            partial.replace(target)
            meta = {"ContentType": response.get("ContentType"), "Metadata": response.get("Metadata", {})}
            target.with_name(target.name + _META_SUFFIX).write_text(json.dumps(meta))
            count += 1
    return count


def restore(s3: Any, bucket: str, directory: Path) -> int:
    """Put every saved object back; runs that were in flight when the backend stopped are closed honestly."""
    count = 0
    if not directory.is_dir():
        return 0
    for path in sorted(directory.rglob("*")):
        if not path.is_file() or path.name.endswith((_META_SUFFIX, ".partial")):
            continue
        key = path.relative_to(directory).as_posix()
        meta_path = path.with_name(path.name + _META_SUFFIX)
        meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
        extra = {"ContentType": meta["ContentType"]} if meta.get("ContentType") else {}
        body = path.read_bytes()
        if key.startswith(RUNS_PREFIX) and key.endswith("/run.json"):
            body = _close_interrupted(body)
        s3.put_object(Bucket=bucket, Key=key, Body=body, Metadata=meta.get("Metadata", {}), **extra)
        count += 1
    return count


def _close_interrupted(body: bytes) -> bytes:
    record = RunRecord.from_json(body)
    if record.status.is_final:
        return body
    closed = record.model_copy(
        update={
            "status": RunStatus.FAILED,
            "failure_class": FailureClass.INTERNAL,
            "reason": "The local backend was stopped while this run was in progress.",
            "finished_at": utc_now(),
            "updated_at": utc_now(),
        }
    )
    return closed.to_json()


def save_run(s3: Any, bucket: str, run_id: str, owner: str | None, directory: Path) -> int:
    return save_prefix(s3, bucket, run_prefix(run_id, owner), directory)
