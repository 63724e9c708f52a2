"""The notice's email through SES, on the real state machine: one notice per run whether SES accepts the
email or refuses it (a sender not verified, an account still in the SES sandbox).

The backend is deployed with NotifyFrom (tests/conftest.py) and the sender verified; the refusal is
made by removing that verification for one run, as happens when a deployment names a sender it has
not verified.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import NOTIFY_FROM, SNAKEFILE_OK, Backend, zip_bytes

NOTIFY = "someone@example.org"


@pytest.fixture
def sender_not_verified(local_backend: Backend) -> Iterator[None]:
    ses = local_backend.client("ses")
    ses.delete_identity(Identity=NOTIFY_FROM)
    try:
        yield
    finally:
        ses.verify_email_identity(EmailAddress=NOTIFY_FROM)


def run_build(backend: Backend, name: str) -> str:
    run_id = backend.upload(zip_bytes({"Snakefile": SNAKEFILE_OK}), name=name, metadata={"notify": NOTIFY})
    backend.wait_for_record(run_id, timeout=120)
    return run_id


def test_refused_email_still_sends_one_notice_and_records_why(
    local_backend: Backend, sender_not_verified: None
) -> None:
    # Given a sender SES has not verified, when a build runs to its end
    run_id = run_build(local_backend, "notice-unverified")

    # Then the run ends as the build did: the refused email does not fail the step
    assert local_backend.wait_for_execution(run_id)["status"] == "SUCCEEDED"
    # And the topic got the notice once, and no email went out
    assert len(local_backend.topic_messages(run_id)) == 1
    assert local_backend.emails_sent(run_id) == []
    # And the notice is marked sent, with the email's failure and SES's reason
    marker = local_backend.notice(run_id)
    assert marker["state"] == "sent"
    email = marker["email"]
    assert (email["to"], email["delivered"], email["error_code"]) == (NOTIFY, False, "MessageRejected")
    assert NOTIFY_FROM in email["error_message"]


def test_verified_sender_emails_the_notice_once(local_backend: Backend) -> None:
    # Given the verified sender, when a build runs to its end
    run_id = run_build(local_backend, "notice-verified")

    # Then one email went to the notify address from the sender, and one message to the topic
    assert local_backend.wait_for_execution(run_id)["status"] == "SUCCEEDED"
    [(sender, recipients, subject)] = local_backend.emails_sent(run_id)
    assert (sender, recipients) == (NOTIFY_FROM, [NOTIFY])
    # The subject names the build (the run id is in the body), its outcome and how long it took
    assert subject.startswith("[nsclient] notice-verified SUCCEEDED in ")
    assert len(local_backend.topic_messages(run_id)) == 1
    # And the marker says it was delivered
    email = local_backend.notice(run_id)["email"]
    assert (email["to"], email["delivered"], email["error_code"]) == (NOTIFY, True, None)
    assert email["message_id"]
