"""A folder's runs from the run index, newest first, and from the folder where runs are older than the index."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from nsclient.runs.listing import folder_runs
from nsclient_common.layout import record_key
from nsclient_common.record import RunRecord, iso_utc
from nsclient_common.runid import new_upload_name, run_id_for_upload
from nsclient_common.runindex import begun_key, latest, legacy_summary_key, since_key
from nsclient_common.runstore import write_record

OWNER = "AIDAEXAMPLEPERSON"
NOW = datetime.now(UTC).replace(microsecond=0)


def _bucket(name: str) -> Any:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=name)
    return s3


def _record(number: int, age: timedelta, status: str = "SUCCEEDED") -> RunRecord:
    submitted = NOW - age
    run_id = run_id_for_upload(f"inbox/{OWNER}/{new_upload_name(f'build{number}', submitted)}.zip", f"v{number}")
    return RunRecord(run_id=run_id, owner=OWNER, status=status, submitted_at=iso_utc(submitted), cpus=number)


def _pages_listed(s3: Any) -> list[int]:
    """Counts each ListObjectsV2 request the client makes from here on."""
    made: list[int] = []
    s3.meta.events.register("before-call.s3.ListObjectsV2", lambda **_: made.append(1))
    return made


def test_a_recent_listing_stops_at_the_first_page_past_its_window(moto_account: str) -> None:
    s3 = _bucket("listing-window")
    # As a backend whose index began before these runs leaves the folder.
    for key in (begun_key(OWNER), since_key(OWNER, NOW - timedelta(days=60))):
        s3.put_object(Bucket="listing-window", Key=key, Body=b"")
    records = [_record(n, timedelta(hours=n)) for n in range(1100)]
    for record in records:
        write_record(s3, "listing-window", record)
    made = _pages_listed(s3)

    recent = folder_runs(s3, "listing-window", OWNER, NOW - timedelta(hours=9, minutes=30))
    assert len(made) == 1  # the index's first page holds the window; the folder, begun before it, is not read
    assert set(recent.summaries) >= {r.run_id for r in records[:10]}
    everything = folder_runs(s3, "listing-window", OWNER, None)
    assert {run_id: latest(s) for run_id, s in everything.summaries.items()} == {
        r.run_id: r.model_copy(update={"owner": OWNER}) for r in records
    }


def test_runs_recorded_before_the_index_are_found_beside_it_and_without_it(moto_account: str) -> None:
    s3 = _bucket("listing-legacy")
    old_summary = _record(1, timedelta(days=60), status="FAILED")
    no_summary = _record(2, timedelta(days=50))
    for record in (old_summary, no_summary):
        s3.put_object(Bucket="listing-legacy", Key=record_key(record.run_id, OWNER), Body=record.to_json())
    s3.put_object(Bucket="listing-legacy", Key=legacy_summary_key(old_summary), Body=b"")

    # No index yet: the whole folder, as before it.
    found = folder_runs(s3, "listing-legacy", OWNER, None)
    assert {run_id: latest(s) for run_id, s in found.summaries.items()} == {
        old_summary.run_id: old_summary,
        no_summary.run_id: None,  # read from its record
    }

    # The index begins: its runs come from it, the older ones still from the folder, for as far back as asked.
    new = _record(3, timedelta(minutes=5))
    write_record(s3, "listing-legacy", new)
    newer = new.model_copy(update={"run_id": new.run_id.replace("build3", "build4")})
    write_record(s3, "listing-legacy", newer)
    index = s3.list_objects_v2(Bucket="listing-legacy", Prefix=f"runs/{OWNER}/index/!")["Contents"]
    assert len(index) == 2  # one claim, one time: however many runs are written
    found = folder_runs(s3, "listing-legacy", OWNER, None)
    assert {run_id: latest(s) for run_id, s in found.summaries.items()} == {
        old_summary.run_id: old_summary,
        no_summary.run_id: None,
        new.run_id: new,
        newer.run_id: newer,
    }
    assert set(folder_runs(s3, "listing-legacy", OWNER, NOW - timedelta(days=55)).summaries) >= {
        no_summary.run_id,
        new.run_id,
    }
