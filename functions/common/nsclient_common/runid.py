"""Run ids: derived from the uploaded object, so every party can compute them.

A run id is the Step Functions execution name. It is a function of the upload's key and
version, so a redelivered S3 event maps to the same execution (StartExecution refuses a
second one) while a new upload to the same key is a new run. The client learns the version
from its PutObject/CompleteMultipartUpload response and so knows the run id without asking.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime

from nsclient_common.layout import INBOX_PREFIX, UPLOAD_SUFFIX

# Execution names allow 80 characters; keep to a conservative alphabet that is also safe
# in S3 keys, URLs, file names and shells.
_MAX_STEM = 60
_DIGEST_CHARS = 10
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
RUN_ID_PATTERN = re.compile(rf"^[A-Za-z0-9_-]{{1,{_MAX_STEM}}}-[0-9a-f]{{{_DIGEST_CHARS}}}$")


def upload_stem(key: str) -> str:
    """The part of an inbox key that names the run: the upload's name without .zip, made safe. The
    owner's folder is left out (run ids are read by people); the digest covers the whole key."""
    name = key[len(INBOX_PREFIX) :] if key.startswith(INBOX_PREFIX) else key
    name = name.rsplit("/", 1)[-1]
    if name.endswith(UPLOAD_SUFFIX):
        name = name[: -len(UPLOAD_SUFFIX)]
    stem = _UNSAFE.sub("-", name).strip("-_")[:_MAX_STEM].strip("-_")
    return stem or "upload"


def run_id_for_upload(key: str, version_id: str | None, sequencer: str | None = None) -> str:
    """The run id of one uploaded object version.

    Unversioned buckets report no version; the event's sequencer then tells uploads apart.
    """
    identity = version_id if version_id and version_id != "null" else f"seq:{sequencer or ''}"
    digest = hashlib.sha256(f"{key}\0{identity}".encode()).hexdigest()[:_DIGEST_CHARS]
    return f"{upload_stem(key)}-{digest}"


_PUSH_STAMP = re.compile(r"^\d{8}T\d{6}Z-")


def build_name(key: str) -> str:
    """The build's name from its upload key: the pushed folder's name (new_upload_name's label), or
    a dropped zip's own name."""
    name = key.rsplit("/", 1)[-1].removesuffix(UPLOAD_SUFFIX)
    return _PUSH_STAMP.sub("", name) or name or "build"


def is_run_id(value: str) -> bool:
    return bool(RUN_ID_PATTERN.match(value))


def new_upload_name(directory_name: str, now: datetime | None = None) -> str:
    """A fresh inbox name for a push: sortable by time, tagged with the pushed folder's name."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    label = _UNSAFE.sub("-", directory_name).strip("-_")[:30].strip("-_") or "build"
    return f"{stamp}-{label}"


def execution_arn(state_machine_arn: str, run_id: str) -> str:
    """The execution ARN of a run: a thin client can stop it knowing only the run id."""
    prefix, sep, name = state_machine_arn.partition(":stateMachine:")
    if not sep:
        raise ValueError(f"not a state machine ARN: {state_machine_arn}")
    return f"{prefix}:execution:{name}:{run_id}"
