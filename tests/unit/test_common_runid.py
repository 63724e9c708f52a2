"""Run ids: a pure function of the uploaded object (key and version), usable as an execution name."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from nsclient_common.runid import (
    RUN_ID_PATTERN,
    execution_arn,
    is_run_id,
    new_upload_name,
    run_id_for_upload,
    upload_stem,
)

KEY = "inbox/20250101T120000Z-zika.zip"
VERSION = "3sL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"
# Step Functions execution names: 1-80 characters, none of whitespace, brackets, wildcards, quotes, controls.
EXECUTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")


def test_run_id_for_upload_is_the_same_for_the_same_key_and_version() -> None:
    # A redelivered event (even with another sequencer) names the same run.
    first = run_id_for_upload(KEY, VERSION, "0055AED6DCD90281E5")
    again = run_id_for_upload(KEY, VERSION, "0055AED6DCD90281E6")
    assert first == again == run_id_for_upload(KEY, VERSION)


def test_run_id_for_upload_is_fixed_across_releases() -> None:
    # Clients compute it from their PutObject response: it must not change between versions of nsclient.
    assert run_id_for_upload(KEY, VERSION) == "20250101T120000Z-zika-f74964641e"
    assert run_id_for_upload(KEY, None, "0055AED6DCD90281E5") == "20250101T120000Z-zika-4b29ba16d4"


def test_run_id_for_upload_differs_for_a_new_version_of_the_same_key() -> None:
    assert run_id_for_upload(KEY, VERSION) != run_id_for_upload(KEY, "another-version")


def test_run_id_for_upload_differs_for_keys_that_make_the_same_stem() -> None:
    a, b = run_id_for_upload("inbox/my build.zip", VERSION), run_id_for_upload("inbox/my-build.zip", VERSION)
    assert a.startswith("my-build-") and b.startswith("my-build-")
    assert a != b


@pytest.mark.parametrize("unversioned", [None, "", "null"])
def test_run_id_for_upload_tells_unversioned_uploads_apart_by_sequencer(unversioned: str | None) -> None:
    first = run_id_for_upload(KEY, unversioned, "0055AED6DCD90281E5")
    assert first == run_id_for_upload(KEY, None, "0055AED6DCD90281E5")
    assert first != run_id_for_upload(KEY, unversioned, "0055AED6DCD90281E6")


@pytest.mark.parametrize(
    "key",
    [
        KEY,
        "inbox/team-a/ncov (v2) [final].zip",
        "inbox/" + "x" * 500 + ".zip",
        "inbox/grippe-été.zip",
        "inbox/$(rm -rf ~);.zip",
        "inbox/%%%.zip",
    ],
)
def test_run_id_for_upload_is_a_valid_execution_name_for_any_key(key: str) -> None:
    run_id = run_id_for_upload(key, VERSION)
    assert EXECUTION_NAME.match(run_id), run_id
    assert is_run_id(run_id)
    assert RUN_ID_PATTERN.match(run_id)


@pytest.mark.parametrize(
    ("key", "stem"),
    [
        ("inbox/zika.zip", "zika"),
        ("inbox/AIDAEXAMPLE/ncov.zip", "ncov"),  # the owner's folder is not part of the name
        ("inbox/AROAEXAMPLE:alice@example.org/ncov.zip", "ncov"),
        ("inbox/ncov (v2).zip", "ncov-v2"),
        ("inbox/%%%.zip", "upload"),
        ("inbox/" + "x" * 100 + ".zip", "x" * 60),
        ("elsewhere/zika.zip", "zika"),
    ],
)
def test_upload_stem_names_the_run_after_the_upload(key: str, stem: str) -> None:
    assert upload_stem(key) == stem


def test_the_same_name_in_two_peoples_folders_is_two_runs() -> None:
    assert run_id_for_upload("inbox/AIDAONE/ncov.zip", VERSION) != run_id_for_upload("inbox/AIDATWO/ncov.zip", VERSION)


@pytest.mark.parametrize("value", ["", "zika", "zika-0123456789abcdef", "zika-ABCDEF0123", "zika 0123456789"])
def test_is_run_id_refuses_what_is_not_a_run_id(value: str) -> None:
    assert not is_run_id(value)


def test_execution_arn_is_derived_from_the_state_machine_and_run_id() -> None:
    machine = "arn:aws:states:us-east-1:123456789012:stateMachine:nsclient-run-build"
    assert (
        execution_arn(machine, "zika-0123456789")
        == "arn:aws:states:us-east-1:123456789012:execution:nsclient-run-build:zika-0123456789"
    )
    with pytest.raises(ValueError, match="not a state machine ARN"):
        execution_arn("arn:aws:lambda:us-east-1:123456789012:function:x", "zika-0123456789")


def test_new_upload_name_is_sortable_by_time_and_names_the_folder() -> None:
    now = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert new_upload_name("zika tutorial", now) == "20250102T030405Z-zika-tutorial"
    assert new_upload_name("...", now) == "20250102T030405Z-build"
