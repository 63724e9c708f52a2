"""Helpers for tests that drive the local backend: build zips, upload them, wait for the outcome."""

from __future__ import annotations

import io
import json
import os
import re
import struct
import subprocess
import sys
import time
import uuid
import zipfile
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import IO, Any, Literal, TypeVar

import boto3
import pytest

from nsclient.local.principals import Credentials, create_user
from nsclient.local.stack import STACK_NAME, StackInfo
from nsclient_common.layout import RUNS_PREFIX, inbox_key, log_key, notice_key, record_key
from nsclient_common.record import RunRecord
from nsclient_common.runid import execution_arn, run_id_for_upload

# The SES sender the pipeline tests' backend is deployed with (its NotifyFrom parameter).
# The team's on-demand queue, named in the stack's OnDemandJobQueue parameter (so its grants cover it).
# Runs use it only after a Spot reclaim, which only the fault tests inject.
ON_DEMAND_QUEUE = "nsclient-local-on-demand"
NOTIFY_FROM = "nsclient@example.org"
NOTIFY_ALLOWED = "example.org"  # the test deployment's NotifyAllowed: its notices are emailed only there

T = TypeVar("T")


def wait_until(
    condition: Callable[[], T | None | Literal[False]], *, timeout: float, what: str, interval: float = 0.2
) -> T:
    """The first truthy value `condition` returns, asked again every `interval` seconds. After `timeout`
    seconds it raises TimeoutError saying `what` never happened (the tests' one way to wait)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what}: not within {timeout:g} s")
        time.sleep(interval)


def run_nsclient(
    *args: str | Path, env: Mapping[str, str], timeout: float = 240, python: tuple[str, ...] = ("-m", "nsclient")
) -> subprocess.CompletedProcess[str]:
    """`nsclient ARGS` as a person runs it, its own process (`python` may replace `-m nsclient`, to run it
    as an installation would be)."""
    return subprocess.run(
        [sys.executable, *python, *(str(a) for a in args)],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@dataclass
class VirtualClock:
    """`time.monotonic` and `time.sleep` for the code under test (`clock.install(module, monkeypatch)`):
    a sleep moves the clock on at once, so a test checks a deadline by the clock's reading, not by how long
    it took on a busy machine."""

    now: float = 1000.0
    slept: list[float] = field(default_factory=list)

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def install(self, module: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
        """The module's `time` becomes this clock (only its own: other modules keep the real one)."""
        monkeypatch.setattr(module, "time", SimpleNamespace(monotonic=self.monotonic, sleep=self.sleep))


def written_so_far(file: IO[str]) -> str:
    """What a process has written so far to a file it was given as stdout or stderr (the file's position,
    shared with the writer, is left alone)."""
    descriptor = file.fileno()
    return os.pread(descriptor, os.fstat(descriptor).st_size, 0).decode(errors="replace")


SNAKEFILE_OK = """\
rule all:
    input: "results/out.txt"

rule make:
    output: "results/out.txt"
    shell: "echo built > {output} && echo the build ran"
"""

SNAKEFILE_FAILS = """\
rule all:
    input: "results/out.txt"

rule broken:
    output: "results/out.txt"
    shell: "echo about to fail && exit 3"
"""


def notice_subject(run_id: str, outcome: str) -> re.Pattern[str]:
    """The subject of a run's notice: its build's name (the upload's), the outcome and how long it took."""
    name = re.escape(run_id.rsplit("-", 1)[0])
    return re.compile(rf"\[nsclient\] {name} {re.escape(outcome)} in (\d+h \d\dm|\d+m \d\ds|\d+s)")


def zip_bytes(files: Mapping[str, str | bytes], *, symlinks: Mapping[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o120777 << 16
            archive.writestr(info, target)
    return buffer.getvalue()


def envd_files(data: bytes) -> list[tuple[str, bytes]]:
    """(name, contents) of each file in an env.d zip, as unzip would write them into a folder."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return [(member.filename, archive.read(member)) for member in archive.infolist() if not member.is_dir()]


def crafted_zip(blob: bytes, entries: list[tuple[str, int, int]]) -> bytes:
    """A zip whose central directory lists `entries` (name, compressed size, uncompressed size), every one
    pointing at the same stored data: the overlapping-member trick of zip bombs, which claims sizes that
    the upload does not hold."""
    local = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 0, 0, 0, zlib.crc32(blob), len(blob), len(blob), 4, 0)
    data = local + b"blob" + blob
    directory = b""
    for name, compressed, uncompressed in entries:
        encoded = name.encode()
        directory += struct.pack(
            "<4s4B4HL2L5H2L",
            b"PK\x01\x02",
            20,
            3,  # made on Unix
            20,
            0,
            0,
            8,  # deflated
            0,
            0,
            0,
            compressed,
            uncompressed,
            len(encoded),
            0,
            0,
            0,
            0,
            0o100644 << 16,
            0,  # header offset: all at the start
        )
        directory += encoded
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(entries), len(entries), len(directory), len(data), 0)
    return data + directory + end


@dataclass
class Backend:
    """Clients for one running local backend, and the waits tests need."""

    info: StackInfo
    # The administrator's: tests look on (and drop uploads as "any S3 tool") as the account's admin.
    admin: Credentials
    _clients: dict[str, Any] = field(default_factory=dict)

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.client_as(service, self.admin)
        return self._clients[service]

    def client_as(self, service: str, credentials: Credentials) -> Any:
        factory: Any = boto3.client
        return factory(
            service,
            endpoint_url=self.info.endpoint_url,
            region_name=self.info.region,
            **credentials.client_kwargs(),
        )

    def new_person(self, name: str, group: str) -> Credentials:
        """Keys of a new IAM user in one of the stack's groups (USERS_GROUP, ADMINS_GROUP)."""
        return create_user(self.client("iam"), name, [f"{STACK_NAME}-{group}"])

    @property
    def user(self) -> Credentials:
        """A person's keys: an IAM user in the stack's users group."""
        assert self.info.credentials is not None
        return Credentials.from_dict(self.info.credentials)

    def upload_as(
        self, credentials: Credentials, body: bytes, *, name: str, metadata: dict[str, str] | None = None
    ) -> str:
        """A person's drop into their own inbox folder, as any S3 tool would; returns the run id it starts."""
        owner = self.client_as("sts", credentials).get_caller_identity()["UserId"]
        key = inbox_key(name, owner)
        response = self.client_as("s3", credentials).put_object(
            Bucket=self.info.bucket, Key=key, Body=body, Metadata=metadata or {}
        )
        return run_id_for_upload(key, response.get("VersionId"))

    def upload(self, body: bytes, *, name: str, metadata: dict[str, str] | None = None) -> str:
        """Drop a zip into inbox/ as any S3 tool would; returns the run id it starts."""
        key = f"inbox/{name}.zip"
        response = self.client("s3").put_object(Bucket=self.info.bucket, Key=key, Body=body, Metadata=metadata or {})
        return run_id_for_upload(key, response.get("VersionId"))

    def execution_arn(self, run_id: str) -> str:
        return execution_arn(self.info.state_machine_arn, run_id)

    def state_machine(self, prefix: str, definition: dict[str, Any]) -> str:
        """A state machine of the test's own (named after it, made fresh), beside the stack's; its ARN."""
        return str(
            self.client("stepfunctions").create_state_machine(
                name=f"{prefix}-{uuid.uuid4().hex[:6]}",
                definition=json.dumps(definition),
                roleArn=f"arn:aws:iam::123456789012:role/{prefix}",
            )["stateMachineArn"]
        )

    def wait_for_execution(self, run_id: str, timeout: float = 120) -> dict[str, Any]:
        sfn = self.client("stepfunctions")

        def finished() -> dict[str, Any] | None:
            try:
                described: dict[str, Any] = sfn.describe_execution(executionArn=self.execution_arn(run_id))
            except sfn.exceptions.ExecutionDoesNotExist:
                return None
            return described if described["status"] != "RUNNING" else None

        return wait_until(finished, timeout=timeout, what=f"execution {run_id} finished")

    def wait_for_record(self, run_id: str, timeout: float = 120) -> RunRecord:
        """The run's record once final and its notice sent (by the state machine or the backstop)."""

        def final() -> RunRecord | None:
            record = self.record(run_id)
            if record is not None and record.status.is_final and self.notice(run_id).get("state") == "sent":
                return record
            return None

        return wait_until(final, timeout=timeout, what=f"run {run_id} ended with a record and a notice")

    def owner_of(self, run_id: str) -> str | None:
        """The folder a run is in (its owner's id; None for a run outside any person's folder)."""
        for key in self.keys(RUNS_PREFIX):
            for owner in (None, key.removeprefix(RUNS_PREFIX).split("/")[0]):
                if key == record_key(run_id, owner):
                    return owner
        return None

    def upload_key(self, run_id: str, bucket: str | None = None) -> str:
        """The inbox key a run was uploaded as, in whichever person's folder (or none)."""
        name = run_id.rsplit("-", 1)[0] + ".zip"
        pages = (
            self.client("s3")
            .get_paginator("list_objects_v2")
            .paginate(Bucket=bucket or self.info.bucket, Prefix="inbox/")
        )
        for key in (entry["Key"] for page in pages for entry in page.get("Contents", [])):
            if key.rsplit("/", 1)[-1] == name:
                return str(key)
        raise KeyError(f"no upload of {run_id}")

    def run_key(self, run_id: str, key_of: Callable[[str, str | None], str]) -> str:
        """A key of the run's folder, wherever that is: run_key(run_id, workdir_key)."""
        return key_of(run_id, self.owner_of(run_id))

    def record(self, run_id: str) -> RunRecord | None:
        try:
            body = self.client("s3").get_object(Bucket=self.info.bucket, Key=self.run_key(run_id, record_key))
        except Exception:
            return None
        return RunRecord.from_json(body["Body"].read())

    def notice(self, run_id: str) -> dict[str, Any]:
        try:
            body = self.client("s3").get_object(Bucket=self.info.bucket, Key=self.run_key(run_id, notice_key))
        except Exception:
            return {}
        notice: dict[str, Any] = json.loads(body["Body"].read())
        return notice

    def archived_log(self, run_id: str) -> str:
        key = self.run_key(run_id, log_key)
        body: bytes = self.client("s3").get_object(Bucket=self.info.bucket, Key=key)["Body"].read()
        return body.decode()

    def topic_messages(self, run_id: str) -> list[tuple[str, str]]:
        """(subject, message) of every notice published to the topic for this run."""
        from moto.sns.models import sns_backends

        topic = sns_backends["123456789012"][self.info.region].topics[self.info.topic_arn]
        return [
            (n[2] or "", n[1])
            for n in topic.sent_notifications
            if (n[3] or {}).get("run_id", {}).get("Value", (n[3] or {}).get("run_id", {}).get("StringValue")) == run_id
        ]

    def emails_sent(self, run_id: str) -> list[tuple[str, list[str], str]]:
        """(sender, recipients, subject) of every email SES accepted for this run."""
        from moto.ses.models import ses_backends

        sent = ses_backends["123456789012"][self.info.region].sent_messages
        found = []
        for sent_message in sent:
            message = self.parsed_email(sent_message)
            if message is not None and message["X-Nsclient-Run"] == run_id:
                found.append((sent_message.source, [str(message["To"])], str(message["Subject"])))
        return found

    @staticmethod
    def parsed_email(sent_message: Any) -> EmailMessage | None:
        """An email SES accepted as raw MIME, parsed as a mail client would."""
        raw = getattr(sent_message, "raw_data", None)
        if raw is None:
            return None
        parsed = BytesParser(policy=policy.default).parsebytes(raw.encode() if isinstance(raw, str) else raw)
        return parsed if isinstance(parsed, EmailMessage) else None

    def keys(self, prefix: str) -> list[str]:
        pages = self.client("s3").get_paginator("list_objects_v2").paginate(Bucket=self.info.bucket, Prefix=prefix)
        return [entry["Key"] for page in pages for entry in page.get("Contents", [])]

    def batch_jobs(self, run_id: str) -> list[dict[str, Any]]:
        batch = self.client("batch")
        summaries = batch.list_jobs(jobQueue=self.info.job_queue, filters=[{"name": "JOB_NAME", "values": [run_id]}])[
            "jobSummaryList"
        ]
        if not summaries:
            return []
        jobs: list[dict[str, Any]] = batch.describe_jobs(jobs=[s["jobId"] for s in summaries])["jobs"]
        return jobs
