"""Uploads nsclient refuses: each is rejected before any job exists, with a reason the sender can act on,
in one notice, and the upload is left where it was sent.

Rejected runs take about a second each; they are run one after another (at once, they only contend). Each kind
of refusal is tested in the unit tables; here a few go through the whole pipeline.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from botocore.exceptions import ClientError, HTTPClientError

from nsclient_common.runid import run_id_for_upload
from tests.support import SNAKEFILE_OK, Backend, zip_bytes

NOTIFY = "someone@example.org"
TOPIC_ONLY = "topic-subscribers@localhost"  # the local outbox's To: when a notice has no address


def _good_zip() -> bytes:
    return zip_bytes({"Snakefile": SNAKEFILE_OK, "data/sequences.fasta": ">a\nACGTACGTAC\n" * 50})


@dataclass
class Case:
    id: str
    body: bytes
    words: list[str]  # in the reason, as the sender reads it
    metadata: dict[str, str] = field(default_factory=dict)
    to: str = NOTIFY  # where the rejection is mailed

    @property
    def key(self) -> str:
        return f"inbox/bad-{self.id}.zip"


GOOD = _good_zip()
# A few end to end, one for each way a rejection travels (the archive check, the options against the deployed
# limits, a refused notify address, one folded through S3's headers); every other refusal is a row of the zip-check
# and request tables (tests/unit/test_common_zipcheck.py, test_common_request.py), which test the same functions.
CASES = [
    Case("not-a-zip", b"Snakefile\nrule all:\n    input: 'x'\n" * 20, ["not a zip archive"]),
    Case("cpus-over-limit", GOOD, ["options are invalid", "cpus 10000", "limit of 64"], {"cpus": "10000"}),
    Case("notify-invalid", GOOD, ["notify address", "not a valid email"], {"notify": "someone-at-example"}, TOPIC_ONLY),
    # A CR/LF cannot cross S3's HTTP headers, but a folded one arrives as a tab: still a control character.
    Case(
        "notify-header-injection",
        GOOD,
        ["notify address", "control characters"],
        {"notify": f"{NOTIFY}\r\n\tBcc: evil@x.org"},
        TOPIC_ONLY,
    ),
]


def send(backend: Backend, case: Case) -> tuple[str, str]:
    """Upload the case's body with a notify address (unless the case sets its own); (run id, version id)."""
    metadata = {"notify": NOTIFY} | case.metadata
    response = backend.client("s3").put_object(
        Bucket=backend.info.bucket, Key=case.key, Body=case.body, Metadata=metadata
    )
    return run_id_for_upload(case.key, response["VersionId"]), response["VersionId"]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_upload_is_rejected_with_a_reason_and_left_in_place(local_backend: Backend, case: Case) -> None:
    # Given a bad upload
    run_id, version_id = send(local_backend, case)

    # When its run has ended
    record = local_backend.wait_for_record(run_id, timeout=60)

    # Then no job ran
    assert local_backend.batch_jobs(run_id) == []
    assert f"runs/{run_id}/workdir.zip" not in local_backend.keys(f"runs/{run_id}/")

    # And run.json says it was rejected, and why, in words the sender understands
    assert record.status == "REJECTED"
    assert record.failure_class == "rejected"
    assert record.reason is not None
    for word in case.words:
        assert word in record.reason, record.reason
    assert record.job_id is None and record.workdir_url is None
    assert record.upload is not None and record.upload.key == case.key

    # And one notice carries the reason, mailed to the sender when their address was valid
    assert local_backend.notice(run_id)["state"] == "sent"
    [(subject, topic_body)] = local_backend.topic_messages(run_id)
    assert re.fullmatch(r"\[nsclient\] \S.* REJECTED in \d+s", subject), subject
    assert record.reason in topic_body
    assert "the upload was left in place" in topic_body
    email = message_from_bytes((Path(local_backend.info.outbox) / f"{run_id}.eml").read_bytes(), policy=policy.default)
    assert (email["To"], " ".join(email["Subject"].split())) == (case.to, subject)  # as a mail client shows it
    assert "evil@x.org" not in "".join(f"{name}: {value}" for name, value in email.items())

    # And the upload is still where it was sent, as it was sent
    s3 = local_backend.client("s3")
    kept = s3.get_object(Bucket=local_backend.info.bucket, Key=case.key)
    assert kept["VersionId"] == version_id
    assert kept["Body"].read() == case.body

    # And the execution ended as a failed build, not as nsclient failing
    execution = local_backend.wait_for_execution(run_id)
    assert (execution["status"], execution.get("error")) == ("FAILED", "BuildFailed")


def test_bad_upload_keeps_only_the_valid_fields_of_refused_options(local_backend: Backend) -> None:
    # Given options refused for their cpus and their submitter, with a valid notify address
    case = Case("options-partly-valid", GOOD, [], {"cpus": "four", "submitter": "Ann\tBcc: evil@x.org"})
    run_id, _ = send(local_backend, case)

    # When the run has ended
    record = local_backend.wait_for_record(run_id, timeout=60)

    # Then the rejection is recorded for, and mailed to, the valid address; the refused submitter is not kept
    assert record.status == "REJECTED"
    assert record.notify == NOTIFY
    assert record.submitter is None  # dropped directly into inbox/: no one to name, and never the account id
    assert "evil@x.org" not in (Path(local_backend.info.outbox) / f"{run_id}.eml").read_text()
    assert record.cpus is None  # 'four' is no number of cpus


def test_a_request_over_the_limits_is_rejected_showing_what_it_asked_for(local_backend: Backend) -> None:
    case = Case("asks-too-much", GOOD, [], {"cpus": "10000", "memory": "2GiB"})
    run_id, _ = send(local_backend, case)

    record = local_backend.wait_for_record(run_id, timeout=60)

    assert record.status == "REJECTED"
    assert (record.cpus, record.memory_mib) == (10000, 2048)


def test_bad_upload_notify_with_a_line_break_cannot_be_sent(local_backend: Backend) -> None:
    # A bare CR/LF in metadata never reaches S3: the HTTP client refuses the header (the request parser
    # refuses it too, tested in tests/unit/test_common_request.py).
    key = "inbox/bad-notify-crlf.zip"
    with pytest.raises((HTTPClientError, ClientError, ValueError)):
        local_backend.client("s3").put_object(
            Bucket=local_backend.info.bucket, Key=key, Body=GOOD, Metadata={"notify": f"{NOTIFY}\r\nBcc: evil@x.org"}
        )
    assert local_backend.keys(key) == []
