"""What a build asks for, carried as S3 object metadata on the upload.

The client writes these keys; anyone dropping a zip by other means may set the same ones
(`aws s3 cp build.zip s3://BUCKET/inbox/ --metadata cpus=8,memory=14GiB,notify=me@example.org`)
or none, for defaults.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from nsclient_common.memory import InvalidMemory, parse_memory_mib
from nsclient_common.payloads import S3_USER_METADATA_BYTES

if TYPE_CHECKING:
    from nsclient_common.settings import Limits

CPUS = "cpus"
MEMORY = "memory"
SNAKEMAKE_ARGS = "snakemake-args"
IMAGE = "image"
NOTIFY = "notify"
SUBMITTER = "submitter"
# The S3 version of inbox/<name>.env.d, the build's environment variables, sent before the build
# ("null" in a bucket without versioning).
ENVD_VERSION = "env-d-version"

# S3 caps an object's user metadata, names and values together.
MAX_METADATA_BYTES = S3_USER_METADATA_BYTES

_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
_IMAGE = re.compile(
    r"^[a-z0-9]+(?:[._/-][a-z0-9]+)*(?::[0-9]+)?(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$"
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_WHOLE_NUMBER = re.compile(r"[0-9]+")  # not str.isdigit(): it says yes to "²", which int() refuses


class InvalidRequest(ValueError):
    """The upload's metadata asks for something we won't run; the message says what and why."""


class BuildRequest(BaseModel):
    cpus: int | None = None
    memory_mib: int | None = None
    snakemake_args: list[str] = []
    image: str | None = None
    notify: str | None = None
    submitter: str | None = None
    envd_version: str | None = None

    def to_metadata(self) -> dict[str, str]:
        """The metadata a client sets on its upload; raises InvalidRequest if it won't fit."""
        metadata = {
            CPUS: str(self.cpus) if self.cpus else None,
            MEMORY: str(self.memory_mib) if self.memory_mib else None,
            SNAKEMAKE_ARGS: json.dumps(self.snakemake_args) if self.snakemake_args else None,
            IMAGE: self.image,
            NOTIFY: self.notify,
            SUBMITTER: self.submitter,
            ENVD_VERSION: self.envd_version,
        }
        kept = {k: v for k, v in metadata.items() if v}
        size = sum(len(k) + len(v.encode()) for k, v in kept.items())
        if size > MAX_METADATA_BYTES:
            raise InvalidRequest(
                f"the build's options take {size} bytes, over S3's {MAX_METADATA_BYTES}-byte metadata limit"
            )
        return kept


def clean_text(value: str, field: str, max_length: int = 256) -> str:
    """Refuse control characters: a newline in a field that reaches an email is header injection."""
    if _CONTROL.search(value):
        raise InvalidRequest(f"{field} contains control characters (such as a line break), which are not allowed")
    if len(value) > max_length:
        raise InvalidRequest(f"{field} is longer than {max_length} characters")
    return value.strip()


def validate_email(value: str) -> str:
    address = clean_text(value, "notify address")
    if not _EMAIL.match(address) or len(address) > 254:
        raise InvalidRequest(f"notify address {address!r} is not a valid email address")
    return address


def notify_refusal(address: str | None, allowed: str) -> str | None:
    """Why the stack will not email this notify address (None: it will). `allowed` is the deployment's
    NotifyAllowed: domains and addresses, comma-separated, or * for any; empty, none."""
    if not address:
        return None
    entries = [entry.strip().lower() for entry in allowed.split(",") if entry.strip()]
    if "*" in entries:
        return None
    if not entries:
        return (
            f"this deployment emails no notify address directly, {address} included (its NotifyAllowed is empty); "
            "`nsclient subscribe` emails you the notices of your runs"
        )
    address_lower = address.lower()
    domain = address_lower.rpartition("@")[2]
    if address_lower in entries or domain in entries:
        return None
    return f"this deployment emails only addresses at {', '.join(entries)}, not {address}"


def parse_request(metadata: dict[str, str], limits: Limits) -> BuildRequest:
    """Read and check the upload's metadata against the deployment's limits."""
    meta = {k.lower(): v for k, v in metadata.items()}
    fields: dict[str, Any] = {}

    if meta.get(CPUS):
        raw = meta[CPUS].strip()
        if not _WHOLE_NUMBER.fullmatch(raw) or int(raw) < 1:
            raise InvalidRequest(f"cpus must be a whole number of at least 1, not {raw!r}")
        if int(raw) > limits.accepted_cpus:
            if limits.accepted_cpus < limits.max_cpus:
                raise InvalidRequest(
                    f"cpus {raw} is more than the {limits.accepted_cpus} vCPUs of this deployment's compute environment"
                )
            raise InvalidRequest(f"cpus {raw} is over this deployment's limit of {limits.max_cpus}")
        fields["cpus"] = int(raw)

    if meta.get(MEMORY):
        try:
            mib = parse_memory_mib(clean_text(meta[MEMORY], "memory"))
        except InvalidMemory as error:
            raise InvalidRequest(str(error)) from None
        if mib > limits.max_memory_mib:
            raise InvalidRequest(f"memory {mib} MiB is over this deployment's limit of {limits.max_memory_mib} MiB")
        fields["memory_mib"] = mib

    if meta.get(SNAKEMAKE_ARGS):
        try:
            args = json.loads(meta[SNAKEMAKE_ARGS])
        except json.JSONDecodeError:
            raise InvalidRequest("snakemake-args must be a JSON list of strings") from None
        if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
            raise InvalidRequest("snakemake-args must be a JSON list of strings")
        fields["snakemake_args"] = [clean_text(a, "a snakemake argument", 1024) for a in args]

    if meta.get(IMAGE):
        image = clean_text(meta[IMAGE], "image")
        if not _IMAGE.match(image):
            raise InvalidRequest(f"image {image!r} is not a valid container image reference")
        fields["image"] = image

    if meta.get(NOTIFY):
        fields["notify"] = validate_email(meta[NOTIFY])

    if meta.get(SUBMITTER):
        fields["submitter"] = clean_text(meta[SUBMITTER], "submitter", 128)

    if meta.get(ENVD_VERSION):
        fields["envd_version"] = clean_text(meta[ENVD_VERSION], ENVD_VERSION, 1024)

    return BuildRequest.model_validate(fields)
