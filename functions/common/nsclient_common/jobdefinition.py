"""The job definition a run's job is submitted with: the team's, derived for the run's owner.

Batch takes a job's role from its definition, so each person's jobs use a copy of the team's definition
(its latest ACTIVE revision, every field as Batch described it) that names the person's job role
(jobrole.py) and, for `push --image`, the image, as the Nextstrain CLI derives one. The copy is
registered once and reused while the team's definition and the person's role stay the same.

Its name is <definition>_<person>_<revision>[_<repository>_<tag>]. Batch names a job's log stream
<definition name>/default/<task>, so the name also gives each person's live logs a prefix of their own:
for an IAM user the person is their unique id (AIDA..., which IAM's ${aws:userid} names), and the users'
policy lets each read only `<definition>_${aws:userid}_*` streams. A role session's id (AROA...:<session>)
holds characters a definition name may not, so it is hashed: IAM cannot say whose such a stream is.
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from types_boto3_batch import BatchClient

NAME_LIMIT = 128
_NAME_CHARS = re.compile(r"[^A-Za-z0-9_-]")
# The fields of a described definition that RegisterJobDefinition takes back as they are.
_COPIED = ("type", "retryStrategy", "timeout", "parameters", "platformCapabilities")


class JobDefinitionMissing(Exception):
    """The configured Batch job definition does not exist (or has no ACTIVE revision)."""


def person_part(owner: str | None) -> str:
    """The owner as a definition name can hold it: an IAM user's id as is, anything else hashed."""
    if owner and re.fullmatch(r"[A-Za-z0-9]+", owner):
        return owner
    return "h" + hashlib.sha256((owner or "").encode()).hexdigest()[:20]


def with_tag(image: str) -> str:
    return image if ":" in image.rsplit("/", 1)[-1] or "@" in image else f"{image}:latest"


def derived_name(base: str, owner: str | None, revision: int, image: str | None) -> str:
    parts = [base, person_part(owner), str(revision)]
    if image:
        repository, _, tag = with_tag(image).rpartition(":")
        parts += [repository, tag]
    name = _NAME_CHARS.sub("-", "_".join(parts))
    if len(name) > NAME_LIMIT:  # keep it unique: the tail becomes a digest of the whole
        digest = hashlib.sha256(name.encode()).hexdigest()[:16]
        name = f"{name[: NAME_LIMIT - len(digest) - 1]}_{digest}"
    return name


def definition_for_run(batch: BatchClient, base: str, *, role_arn: str, owner: str | None, image: str | None) -> str:
    """The owner's copy of `base` (with `image`, when it is not the base's own), registered if new."""
    found = batch.describe_job_definitions(jobDefinitionName=base, status="ACTIVE")["jobDefinitions"]
    if not found:
        raise JobDefinitionMissing(f"job definition {base!r} has no ACTIVE revision")
    latest: Any = max(found, key=lambda d: d["revision"])
    container = dict(latest.get("containerProperties", {}))
    if image and with_tag(container.get("image", "")) == with_tag(image):
        image = None  # the team's definition runs it already
    name = derived_name(base, owner, latest["revision"], image)
    wanted: Any = {**container, "jobRoleArn": role_arn, **({"image": image} if image else {})}
    for existing in batch.describe_job_definitions(jobDefinitionName=name, status="ACTIVE")["jobDefinitions"]:
        if existing.get("containerProperties", {}).get("jobRoleArn") == role_arn:
            return name
    copied = {k: latest[k] for k in _COPIED if latest.get(k)}
    batch.register_job_definition(jobDefinitionName=name, containerProperties=wanted, **copied)
    return name
