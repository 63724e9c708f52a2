"""A folder's runs as listings find them: each run's summaries from the run index (runindex), with no read per
run. The index lists newest first, so a listing of recent runs stops at the first page that reaches past
them. Where the listing reaches back before the index began, the part of the folder where runs recorded
before it can be (runindex.legacy_ranges) is listed too; all of it when the owner has no index yet."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nsclient_common.layout import index_prefix, runs_prefix
from nsclient_common.record import parse_iso
from nsclient_common.runid import is_run_id
from nsclient_common.runindex import Summary, legacy_ranges, parse_since_key, parse_summary_key

if TYPE_CHECKING:
    from datetime import datetime


@dataclass
class FolderRuns:
    """Each run found, with its summaries (none: only its record tells)."""

    summaries: dict[str, list[Summary]] = field(default_factory=dict)

    def add(self, run_id: str, summary: Summary | None = None) -> None:
        found = self.summaries.setdefault(run_id, [])
        if summary is not None:
            found.append(summary)


def _read_index(s3: Any, bucket: str, owner: str | None, cutoff: datetime | None, runs: FolderRuns) -> datetime | None:
    """The owner's index, newest first, to the first page past cutoff; when the index began (None: no index)."""
    since = None
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=index_prefix(owner)):
        older = False
        for entry in page.get("Contents", []):
            if (began := parse_since_key(entry["Key"], owner)) is not None:
                since = began
            elif parsed := parse_summary_key(entry["Key"], owner):
                runs.add(*parsed)
                older = cutoff is not None and parse_iso(parsed[1].record.submitted_at) < cutoff
        if older:  # every later key is older still
            break
    return since


def _read_legacy(s3: Any, bucket: str, owner: str | None, start_after: str, last: str | None, runs: FolderRuns) -> None:
    """The run folders and summaries beside them from after start_after to last (None: to the end)."""
    prefix = runs_prefix(owner)
    bounds = {"StartAfter": start_after} if start_after else {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix, Delimiter="/", **bounds):
        folders = [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        keys = [c["Key"] for c in page.get("Contents", [])]
        for folder in folders:
            run_id = folder[len(prefix) : -1]
            if (last is None or folder <= last) and is_run_id(run_id):
                runs.add(run_id)
        for key in keys:
            if (last is None or key <= last) and (parsed := parse_summary_key(key, owner)):
                runs.add(*parsed)
        if last is not None and any(name > last for name in folders + keys):
            break


def folder_runs(s3: Any, bucket: str, owner: str | None, cutoff: datetime | None) -> FolderRuns:
    """The owner's runs submitted from cutoff on (None: all), and maybe some older, which the caller drops."""
    runs = FolderRuns()
    since = _read_index(s3, bucket, owner, cutoff, runs)
    if since is None:
        _read_legacy(s3, bucket, owner, "", None, runs)
    elif cutoff is None or cutoff < since:
        for start_after, last in legacy_ranges(owner, since):
            _read_legacy(s3, bucket, owner, start_after, last, runs)
    return runs
