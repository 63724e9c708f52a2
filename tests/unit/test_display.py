"""How durations, memory, statuses and build names read: one formatter each, for the CLI, the notice and the report."""

from __future__ import annotations

import pytest

from nsclient_common.display import build_name_of, duration, duration_between, memory_mib, size, status_label
from nsclient_common.layout import inbox_key
from nsclient_common.record import FailureClass, RunRecord, RunStatus, UploadSource

AT = "2026-01-01T10:00:00Z"


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (0, "0s"),
        (0.4, "0s"),
        (59, "59s"),
        (59.6, "1m 00s"),  # rounded, never "60s"
        (60, "1m 00s"),
        (777, "12m 57s"),
        (3599, "59m 59s"),
        (3600, "1h 00m"),
        (3725, "1h 02m"),
        (86399, "23h 59m"),
        (86400, "1d 00h"),
        (3 * 86400 + 5 * 3600 + 59, "3d 05h"),
        (-5, "0s"),  # clocks a little apart never show a negative time
    ],
)
def test_duration_shows_the_two_largest_units(seconds: float, shown: str) -> None:
    assert duration(seconds) == shown


def test_duration_between_record_times_and_unknown_ends() -> None:
    assert duration_between("2026-01-01T10:00:00Z", "2026-01-01T11:02:05Z") == "1h 02m"
    assert duration_between("2026-01-01T10:00:00Z", None) is None
    assert duration_between(None, "2026-01-01T10:00:00Z") is None


@pytest.mark.parametrize(
    ("n_bytes", "shown"),
    [
        (0, "0 B"),
        (1023, "1023 B"),
        (1024, "1 KiB"),
        (1536, "1.5 KiB"),
        (2**20 - 1, "1 MiB"),  # 1023.999 KiB rounds to 1024.0: the next unit, not "1024 KiB"
        (400 * 2**20, "400 MiB"),
        (3.14 * 2**30, "3.1 GiB"),
        (14 * 2**30, "14 GiB"),
        (2**40, "1 TiB"),
        (-1, "0 B"),
    ],
)
def test_size_in_binary_units_with_at_most_one_decimal(n_bytes: float, shown: str) -> None:
    assert size(n_bytes) == shown


@pytest.mark.parametrize(("mib", "shown"), [(512, "512 MiB"), (1024, "1 GiB"), (14336, "14 GiB"), (7400, "7.2 GiB")])
def test_memory_asked_in_mib_reads_as_size_does(mib: int, shown: str) -> None:
    assert memory_mib(mib) == shown


@pytest.mark.parametrize(
    ("status", "failure_class", "shown"),
    [
        (RunStatus.SUCCEEDED, None, "SUCCEEDED"),
        (RunStatus.FAILED, FailureClass.EXIT_CODE, "FAILED (exit-code)"),
        (RunStatus.CANCELLED, FailureClass.CANCELLED, "CANCELLED"),  # the class would only repeat the status
        (RunStatus.REJECTED, FailureClass.REJECTED, "REJECTED"),
    ],
)
def test_status_label_names_the_failure_class_when_it_says_more(
    status: RunStatus, failure_class: FailureClass | None, shown: str
) -> None:
    assert status_label(status, failure_class) == shown


def test_build_name_from_the_record_else_its_upload_else_the_run_id() -> None:
    upload = UploadSource(bucket="b", key=inbox_key("20260101T100000Z-zika", "AIDAOWNER"), version_id="v1")
    named = RunRecord(
        run_id="zika-0123456789", status=RunStatus.RUNNING, submitted_at=AT, build_name="zika-like", upload=upload
    )
    assert build_name_of(named) == "zika-like"
    assert build_name_of(named.model_copy(update={"build_name": None})) == "zika"
    assert build_name_of(RunRecord(run_id="x-0123456789", status=RunStatus.REJECTED, submitted_at=AT)) == "x-0123456789"
