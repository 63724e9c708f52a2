"""The builds bucket's key layout, which the client, the functions and the docs share."""

from __future__ import annotations

import pytest

from nsclient_common.layout import (
    cancel_request,
    cancel_request_key,
    envd_key,
    envd_key_for_upload,
    inbox_envd_key,
    inbox_key,
    is_upload_key,
    log_key,
    notice_key,
    owner_of_inbox_key,
    record_key,
    run_prefix,
    s3_url,
    timeline_key,
    uploader_name,
    workdir_key,
)

OWNER = "AROAEXAMPLEID:alice@example.org"  # a role session's aws:userid (an SSO user's)


def test_a_persons_run_keys_live_in_their_folder() -> None:
    run_id = "zika-0123456789"
    folder = f"runs/{OWNER}/zika-0123456789/"
    assert run_prefix(run_id, OWNER) == folder
    assert record_key(run_id, OWNER) == folder + "run.json"
    assert workdir_key(run_id, OWNER) == folder + "workdir.zip"
    assert log_key(run_id, OWNER) == folder + "logs/build.log"
    assert timeline_key(run_id, OWNER) == folder + "logs/timeline.json"
    assert notice_key(run_id, OWNER) == folder + "notice.json"
    assert envd_key(run_id, OWNER) == folder + "env.d.zip"  # the image's entrypoint takes only .zip URLs


def test_a_run_without_an_owner_keeps_the_layout_runs_had_before_folders() -> None:
    run_id = "zika-0123456789"
    assert record_key(run_id, None) == "runs/zika-0123456789/run.json"
    assert workdir_key(run_id, None) == "runs/zika-0123456789/workdir.zip"


def test_an_uploads_owner_is_the_inbox_folder_iam_let_them_write() -> None:
    assert owner_of_inbox_key(inbox_key("20250101T000000Z-zika", OWNER)) == OWNER
    assert owner_of_inbox_key("inbox/20250101T000000Z-zika.zip") is None
    assert owner_of_inbox_key("inbox//x.zip") is None


def test_a_cancel_request_names_its_asker_and_run() -> None:
    key = cancel_request_key("zika-0123456789", OWNER)
    assert key == f"inbox/{OWNER}/zika-0123456789.cancel"
    assert cancel_request(key) == (OWNER, "zika-0123456789")
    assert not is_upload_key(key)
    assert cancel_request("inbox/zika-0123456789.cancel") is None  # no folder: no asker
    assert cancel_request(f"inbox/{OWNER}/zika.zip") is None


def test_an_owner_id_cannot_reach_outside_its_folder() -> None:
    with pytest.raises(ValueError, match="not an owner id"):
        record_key("zika-0123456789", "a/b")


def test_an_uploads_env_d_sits_beside_it_and_starts_no_run() -> None:
    name = "20250101T000000Z-zika"
    expected = f"inbox/{OWNER}/20250101T000000Z-zika.env.d"
    assert envd_key_for_upload(inbox_key(name, OWNER)) == inbox_envd_key(name, OWNER) == expected
    assert not is_upload_key(inbox_envd_key(name, OWNER))


def test_inbox_key_is_an_upload_key() -> None:
    assert inbox_key("20250101T000000Z-zika", OWNER) == f"inbox/{OWNER}/20250101T000000Z-zika.zip"
    assert is_upload_key(inbox_key("20250101T000000Z-zika", OWNER))
    assert inbox_key("20250101T000000Z-zika", None) == "inbox/20250101T000000Z-zika.zip"


@pytest.mark.parametrize("key", ["inbox/zika.zip", "inbox/team/zika.zip", "inbox/a.zip"])
def test_is_upload_key_accepts_zips_under_the_inbox(key: str) -> None:
    assert is_upload_key(key)


@pytest.mark.parametrize(
    "key",
    [
        "inbox/.zip",
        "inbox/",
        "inbox/zika.tar.gz",
        "inbox/zika.ZIP",  # the EventBridge rule's suffix match is case-sensitive too
        "runs/zika-0123456789/workdir.zip",  # the job writes here: it must never start a run
        "zika.zip",
        "Inbox/zika.zip",
    ],
)
def test_is_upload_key_refuses_everything_else(key: str) -> None:
    assert not is_upload_key(key)


def test_s3_url() -> None:
    assert s3_url("builds", "runs/r/workdir.zip") == "s3://builds/runs/r/workdir.zip"


@pytest.mark.parametrize(
    ("owner", "named"),
    [
        ("AROAEXAMPLEROLE:alice@example.org", "alice@example.org"),  # an SSO or assumed-role session
        ("AIDAEXAMPLEUSER", "AIDAEXAMPLEUSER"),  # an IAM user has no other name in the key
        (None, None),  # directly under inbox/
    ],
)
def test_a_drop_without_a_submitter_is_named_by_its_uploader_never_the_account(owner: str | None, named: str) -> None:
    assert uploader_name(owner) == named
