"""What a build asks for, read from the upload's S3 metadata, checked against the deployment's limits."""

from __future__ import annotations

import json
from email import message_from_bytes

import pytest

from nsclient_common.delivery import email_message
from nsclient_common.notice import Notice, compose_notice
from nsclient_common.record import FailureClass, RunRecord, RunStatus
from nsclient_common.request import MAX_METADATA_BYTES, BuildRequest, InvalidRequest, parse_request
from nsclient_common.settings import Limits

LIMITS = Limits(max_cpus=96, max_memory_mib=768 * 1024)
INJECTION = "a@b.org\r\nBcc: evil@x.org"


def test_parse_request_with_no_metadata_asks_for_the_defaults() -> None:
    assert parse_request({}, LIMITS) == BuildRequest()


def test_parse_request_reads_every_option() -> None:
    # Given the metadata `nsclient push` (or `aws s3 cp --metadata`) sets
    metadata = {
        "cpus": "8",
        "memory": "14GiB",
        "snakemake-args": json.dumps(["--forceall", "all"]),
        "image": "nextstrain/base:build-20250101T000000Z",
        "notify": "someone@example.org",
        "submitter": "Ann Example",
    }

    # When it is read
    request = parse_request(metadata, LIMITS)

    # Then the build gets what it asked for
    assert request == BuildRequest(
        cpus=8,
        memory_mib=14336,
        snakemake_args=["--forceall", "all"],
        image="nextstrain/base:build-20250101T000000Z",
        notify="someone@example.org",
        submitter="Ann Example",
    )


def test_parse_request_round_trips_what_the_client_writes() -> None:
    asked = BuildRequest(cpus=4, memory_mib=7400, snakemake_args=["-n"], notify="a@b.org", submitter="ann")
    assert parse_request(asked.to_metadata(), LIMITS) == asked


def test_parse_request_ignores_key_case_blank_values_and_unknown_keys() -> None:
    request = parse_request({"CPUS": " 4 ", "Memory": "", "notify": "", "colour": "blue"}, LIMITS)
    assert request == BuildRequest(cpus=4)


@pytest.mark.parametrize(
    ("metadata", "words"),
    [
        ({"cpus": "four"}, ["cpus", "whole number", "'four'"]),
        ({"cpus": "0"}, ["cpus", "at least 1"]),
        ({"cpus": "-2"}, ["cpus", "whole number"]),
        ({"cpus": "2.5"}, ["cpus", "whole number"]),
        ({"cpus": "²"}, ["cpus", "whole number"]),  # str.isdigit() says yes, int() says no
        ({"cpus": "10000"}, ["cpus 10000", "limit of 96"]),
        ({"cpus": "1" + "0" * 30}, ["over this deployment's limit of 96"]),
        ({"memory": "lots"}, ["memory", "'lots'", "14GiB"]),
        ({"memory": "1000GiB"}, ["memory 1024000 MiB", "limit of 786432 MiB"]),
        ({"memory": "1TiB"}, ["memory", "limit"]),
        ({"snakemake-args": "--forceall"}, ["snakemake-args", "JSON list"]),
        ({"snakemake-args": '{"a": 1}'}, ["snakemake-args", "JSON list"]),
        ({"snakemake-args": "[1, 2]"}, ["snakemake-args", "JSON list"]),
        ({"snakemake-args": json.dumps(["--config", "x=1\ny=2"])}, ["snakemake argument", "control characters"]),
        ({"image": "Not An Image!"}, ["image", "not a valid container image"]),
        ({"notify": "not-an-email"}, ["notify address", "not a valid email"]),
        ({"notify": "a@b"}, ["notify address", "not a valid email"]),
        ({"notify": "a@b.org, c@d.org"}, ["notify address", "not a valid email"]),
        ({"notify": "a@b.org Bcc: evil@x.org"}, ["notify address", "not a valid email"]),
        ({"notify": INJECTION}, ["notify address", "control characters"]),
        ({"notify": "a@b.org\n"}, ["notify address", "control characters"]),
        ({"notify": "a@b.org\tBcc: evil@x.org"}, ["notify address", "control characters"]),
        ({"submitter": "Ann\r\nBcc: evil@x.org"}, ["submitter", "control characters"]),
        ({"submitter": "Ann\x00"}, ["submitter", "control characters"]),
        ({"submitter": "A" * 129}, ["submitter", "longer than 128"]),
    ],
)
def test_parse_request_refuses_with_a_reason_a_person_understands(metadata: dict[str, str], words: list[str]) -> None:
    with pytest.raises(InvalidRequest) as refused:
        parse_request(metadata, LIMITS)
    for word in words:
        assert word in str(refused.value)


def test_parse_request_accepts_requests_at_the_limits() -> None:
    request = parse_request({"cpus": "96", "memory": "768GiB"}, LIMITS)
    assert (request.cpus, request.memory_mib) == (96, 786432)


def test_to_metadata_refuses_what_s3_cannot_carry() -> None:
    huge = BuildRequest(snakemake_args=["--config"] + [f"key{i}=value{i}" for i in range(200)])
    with pytest.raises(InvalidRequest, match=f"{MAX_METADATA_BYTES}-byte metadata limit"):
        huge.to_metadata()


# --- header injection, past the request: the notice and the email built from a record ------------------------


def _record(**fields: object) -> RunRecord:
    base: dict[str, object] = {
        "run_id": "zika-0123456789",
        "status": RunStatus.REJECTED,
        "failure_class": FailureClass.REJECTED,
        "submitted_at": "2025-01-01T00:00:00Z",
        "reason": "The archive has no Snakefile at its top level.",
    }
    return RunRecord.model_validate(base | fields)


def test_compose_notice_keeps_line_breaks_out_of_the_subject() -> None:
    notice = compose_notice(_record(run_id="zika\r\nBcc: evil@x.org"), [])
    assert "\r" not in notice.subject and "\n" not in notice.subject
    assert notice.subject == "[nsclient] zika Bcc: evil@x.org REJECTED"


def test_email_message_keeps_field_values_out_of_the_headers() -> None:
    # Given a record whose submitter and log carry CR/LF (as if written by something other than parse_request)
    record = _record(submitter="Ann\r\nBcc: evil@x.org", notify="someone@example.org")

    # When the notice is composed and mailed
    notice = compose_notice(record, ["line one", "Bcc: evil@x.org\r"])
    message = message_from_bytes(bytes(email_message(notice, "nsclient@example.org", "someone@example.org")))

    # Then no header was added: the values stay in the body
    assert message["Bcc"] is None
    assert message.get_all("To") == ["someone@example.org"]
    assert message["Subject"] == "[nsclient] zika-0123456789 REJECTED"


def test_email_message_refuses_a_recipient_with_a_line_break() -> None:
    notice = Notice(
        run_id="zika-0123456789", status="REJECTED", failure_class="rejected", subject="s", body="b", to=INJECTION
    )
    with pytest.raises(ValueError, match="linefeed or carriage return"):
        email_message(notice, "nsclient@example.org", INJECTION)


def test_compose_notice_of_a_rejection_says_why_and_that_the_upload_stays() -> None:
    notice = compose_notice(_record(notify="someone@example.org"), [])
    assert notice.subject == "[nsclient] zika-0123456789 REJECTED"
    assert "The archive has no Snakefile at its top level." in notice.body
    assert "the upload was left in place" in notice.body
    assert notice.to == "someone@example.org"
