"""What each rule used, from the `benchmark:` files a build declares.

snakemake writes one tab-separated file per benchmarked job: a header (s, h:m:s, max_rss, max_vms,
max_uss, max_pss, io_in, io_out, mean_load, cpu_time, and more with --benchmark-extended) and a row
per repeat, sizes in MB, NA where it measured nothing (a job quicker than its first sample). The
files come back in the run's results zip, which is read by range: its directory, then these members.
"""

from __future__ import annotations

import zipfile
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError
from pydantic import BaseModel

from nsclient_common.s3io import open_s3_object

if TYPE_CHECKING:
    from collections.abc import Iterable

MAX_FILES = 500  # a build with more benchmarked jobs reports the first ones
MAX_FILE_BYTES = 64 * 1024


class RuleUsage(BaseModel):
    rule: str
    jobs: int  # benchmarked jobs with a measurement
    peak_rss_mib: float
    cpu_seconds: float
    longest_seconds: float


def _number(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None  # NA


def parse_benchmark(text: str) -> list[dict[str, float | None]]:
    """Each row of a benchmark file, by column name."""
    lines = [line.split("\t") for line in text.splitlines() if line.strip()]
    if not lines:
        return []
    header, rows = lines[0], lines[1:]
    return [{name: _number(value) for name, value in zip(header, row, strict=False)} for row in rows]


def rule_usage(files: Iterable[tuple[str, str]]) -> list[RuleUsage]:
    """Per rule, from (rule, benchmark file text) pairs: its jobs' highest RSS, CPU time and longest run."""
    found: dict[str, RuleUsage] = {}
    for rule, text in files:
        for row in parse_benchmark(text):
            rss, cpu, seconds = row.get("max_rss"), row.get("cpu_time"), row.get("s")
            if rss is None:
                continue
            usage = found.setdefault(
                rule, RuleUsage(rule=rule, jobs=0, peak_rss_mib=0, cpu_seconds=0, longest_seconds=0)
            )
            usage.jobs += 1
            usage.peak_rss_mib = max(usage.peak_rss_mib, rss)
            usage.cpu_seconds += cpu or 0.0
            usage.longest_seconds = max(usage.longest_seconds, seconds or 0.0)
    return sorted(found.values(), key=lambda usage: -usage.peak_rss_mib)


def read_benchmarks(s3: Any, bucket: str, key: str, wanted: dict[str, str]) -> list[tuple[str, str]]:
    """(rule, text) of the benchmark files (path -> rule) found in the zip at key; none when the results
    are missing or not a zip (the report is still made, without each rule's use)."""
    if not wanted:
        return []
    try:
        with open_s3_object(s3, bucket, key) as handle, zipfile.ZipFile(handle) as archive:
            members = {info.filename: info for info in archive.infolist()}
            found = []
            for path, rule in list(wanted.items())[:MAX_FILES]:
                info = members.get(path.removeprefix("./"))
                if info is not None and info.file_size <= MAX_FILE_BYTES:
                    found.append((rule, archive.read(info).decode("utf-8", "replace")))
            return found
    except (ClientError, zipfile.BadZipFile):
        return []
