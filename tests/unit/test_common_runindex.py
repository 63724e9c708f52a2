"""The run index: a run's summary in an object's name, read back from a listing alone."""

from __future__ import annotations

from nsclient_common.layout import runs_prefix
from nsclient_common.record import FailureClass, RunRecord, RunStatus
from nsclient_common.runindex import SUBMITTER_BYTES, Summary, latest, parse_summary_key, summary_key

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
    assert key.startswith(runs_prefix(OWNER) + RUN_ID + ".3.")
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
    ):
        assert parse_summary_key(other, OWNER) is None


def test_the_latest_stage_is_the_runs_and_a_disagreement_there_is_no_answer() -> None:
    submitted = Summary(0, record(status="SUBMITTED"))
    succeeded = Summary(3, record(status="SUCCEEDED"))
    cancelled = Summary(3, record(status="CANCELLED"))
    assert latest([]) is None
    assert latest([succeeded, submitted]) == succeeded.record
    assert latest([submitted, succeeded, Summary(3, record(status="SUCCEEDED"))]) == succeeded.record
    assert latest([submitted, succeeded, cancelled]) is None  # read the record itself
