"""The builds bucket's key layout, which the client, the functions and the docs share."""

from __future__ import annotations

import pytest

from nsclient_common.layout import (
    envd_key,
    envd_key_for_upload,
    inbox_envd_key,
    inbox_key,
    is_upload_key,
    log_key,
    notice_key,
    record_key,
    run_prefix,
    s3_url,
    workdir_key,
)


def test_run_keys_all_live_under_the_runs_prefix() -> None:
    run_id = "zika-0123456789"
    assert run_prefix(run_id) == "runs/zika-0123456789/"
    assert record_key(run_id) == "runs/zika-0123456789/run.json"
    assert workdir_key(run_id) == "runs/zika-0123456789/workdir.zip"
    assert log_key(run_id) == "runs/zika-0123456789/logs/build.log"
    assert notice_key(run_id) == "runs/zika-0123456789/notice.json"
    assert envd_key(run_id) == "runs/zika-0123456789/env.d.zip"  # the image's entrypoint takes only .zip URLs


def test_an_uploads_env_d_sits_beside_it_and_starts_no_run() -> None:
    name = "20250101T000000Z-zika"
    assert envd_key_for_upload(inbox_key(name)) == inbox_envd_key(name) == "inbox/20250101T000000Z-zika.env.d"
    assert not is_upload_key(inbox_envd_key(name))


def test_inbox_key_is_an_upload_key() -> None:
    assert inbox_key("20250101T000000Z-zika") == "inbox/20250101T000000Z-zika.zip"
    assert is_upload_key(inbox_key("20250101T000000Z-zika"))


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
