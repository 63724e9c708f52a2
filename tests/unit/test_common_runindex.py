"""The run index: a run's summary in an object's name, read back from a listing alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from nsclient_common.layout import index_prefix, runs_prefix
from nsclient_common.record import FailureClass, RunRecord, RunStatus, iso_utc
from nsclient_common.runindex import (
    SUBMITTER_BYTES,
    Summary,
    latest,
    legacy_ranges,
    legacy_summary_key,
    parse_since_key,
    parse_summary_key,
    since_key,
    summary_key,
)

OWNER = "AROAEXAMPLEID:someone@example.org"
RUN_ID = "20261205T031500Z-zika-0123456789"


def record(**fields: object) -> RunRecord:
    base: dict[str, object] = {"run_id": RUN_ID, "owner": OWNER, "status": "SUCCEEDED"}
    return RunRecord.model_validate({**base, "submitted_at": "2026-12-05T03:15:02Z", **fields})


def test_a_summary_key_carries_what_a_listing_shows() -> None:
    full = record(
        status="FAILED",
        failure_class="out-of-memory",
        started_at="2026-12-05T03:20:00Z",
        finished_at="2026-12-05T04:00:00Z",
        cpus=8,
        memory_mib=16384,
        submitter="Ada Lovelace",
        job_id="not in the summary",
        reason="not in the summary",
    )
    key = summary_key(full)
    assert key.startswith(index_prefix(OWNER) + "79738794968497." + RUN_ID + ".3.")  # 20261205031502 from 9s
    parsed = parse_summary_key(key, OWNER)
    assert parsed is not None
    run_id, summary = parsed
    assert run_id == RUN_ID and summary.stage == RunStatus.FAILED.stage
    shown = summary.record
    assert (shown.status, shown.failure_class) == (RunStatus.FAILED, FailureClass.OUT_OF_MEMORY)
    assert (shown.cpus, shown.memory_mib, shown.submitter, shown.owner) == (8, 16384, "Ada Lovelace", OWNER)
    assert (shown.submitted_at, shown.started_at, shown.finished_at) == (
        full.submitted_at,
        full.started_at,
        full.finished_at,
    )
    assert shown.job_id is None and shown.reason is None


def test_a_long_submitter_is_cut_and_the_name_fits_a_file_name() -> None:
    """Within 255 bytes, with room for a suffix such as `.partial`, so a copy of the bucket on a disk holds it."""
    longest_run_id = "20261205T031500Z-" + "b" * 43 + "-0123456789"
    longest = record(
        run_id=longest_run_id,
        status="FAILED",
        failure_class="resources-too-large",
        started_at="2026-12-05T03:20:00Z",
        finished_at="2026-12-05T04:00:00Z",
        cpus=64,
        memory_mib=786432,
        submitter="Ada_Lovelace, Analytical Engine " + "é" * 200,
    )
    key = summary_key(longest)
    assert len(key.rsplit("/", 1)[1].encode()) <= 255 - len(".partial")
    assert len(legacy_summary_key(longest).rsplit("/", 1)[1].encode()) < len(key.rsplit("/", 1)[1].encode())
    parsed = parse_summary_key(key, OWNER)
    assert parsed is not None
    submitter = parsed[1].record.submitter
    assert submitter is not None and longest.submitter is not None
    assert longest.submitter.startswith(submitter) and len(submitter.encode()) <= SUBMITTER_BYTES
    assert submitter.startswith("Ada_Lovelace")  # a `_` of its own does not confuse the fields


def test_only_index_keys_of_that_folder_parse() -> None:
    key = summary_key(record())
    assert parse_summary_key(key, "someone-else") is None
    folder = runs_prefix(OWNER)
    for other in (
        f"{folder}{RUN_ID}/run.json",
        f"{folder}{RUN_ID}.3.not-a-summary",
        f"{folder}{RUN_ID}.3.SUCCEEDED__not-a-time______",
        f"{folder}{RUN_ID}.0.{key.rsplit('.', 1)[1]}",  # the stage does not match the status
        f"{folder}{RUN_ID}.zip",
        key.replace("/index/7", "/index/6"),  # its place in the order is not its submission time's
        since_key(OWNER, datetime.now(UTC)),
    ):
        assert parse_summary_key(other, OWNER) is None


def test_the_index_lists_newest_first_and_its_marker_first_of_all() -> None:
    now = datetime(2026, 12, 5, 3, 15, 2, tzinfo=UTC)
    ages = [timedelta(0), timedelta(seconds=1), timedelta(minutes=59), timedelta(days=1), timedelta(days=400)]
    keys = [
        summary_key(record(run_id=f"{i}-zika-0123456789", submitted_at=iso_utc(now - age)))
        for i, age in enumerate(ages)
    ]
    marker = since_key(OWNER, now)
    assert sorted([*reversed(keys), marker]) == [marker, *keys]
    assert parse_since_key(marker, OWNER) == now
    assert parse_since_key(keys[0], OWNER) is None and parse_since_key(marker, "someone-else") is None


def test_a_summary_beside_the_folder_as_earlier_backends_wrote_it_still_parses() -> None:
    written = record(status="FAILED", failure_class="exit-code", cpus=2)
    legacy = legacy_summary_key(written)
    assert legacy == f"{runs_prefix(OWNER)}{RUN_ID}.3.FAILED_exit-code_20261205T031502Z___2__"
    parsed = parse_summary_key(legacy, OWNER)
    assert parsed is not None and parsed[0] == RUN_ID
    assert parsed[1].record == parse_summary_key(summary_key(written), OWNER)[1].record  # type: ignore[index]


def test_legacy_ranges_hold_every_run_id_recorded_before_the_index_and_no_later_one() -> None:
    since = datetime(2026, 12, 5, 3, 15, 2, tzinfo=UTC)
    folder = runs_prefix(OWNER)
    ranges = legacy_ranges(OWNER, since)

    def held(name: str) -> bool:
        return any(name > after and (last is None or name <= last) for after, last in ranges)

    other_tools = ["-named-0123456789", "Named-0123456789", "named-0123456789", "_named-0123456789"]
    clock_behind = "20261205T031503Z-clock-behind-0123456789"
    for run_id in ("20261204T031500Z-zika-0123456789", "20250101T000000Z-zika-0123456789", clock_behind, *other_tools):
        assert held(f"{folder}{run_id}/") and held(f"{folder}{run_id}.3.SUCCEEDED_"), run_id
    assert not held(f"{folder}20261207T000000Z-zika-0123456789/")  # a day past: in the index alone


def test_the_latest_stage_is_the_runs_and_a_disagreement_there_is_no_answer() -> None:
    submitted = Summary(0, record(status="SUBMITTED"))
    succeeded = Summary(3, record(status="SUCCEEDED"))
    cancelled = Summary(3, record(status="CANCELLED"))
    assert latest([]) is None
    assert latest([succeeded, submitted]) == succeeded.record
    assert latest([submitted, succeeded, Summary(3, record(status="SUCCEEDED"))]) == succeeded.record
    assert latest([submitted, succeeded, cancelled]) is None  # read the record itself
