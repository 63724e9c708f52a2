"""What the run report reads for a long build log: from the timeline CollectLogs stored beside the log, against
from the log itself (what every report read before, and still reads for a run without a stored timeline).

The log is a snakemake build's: 1,000,000 lines (--quick: 100,000), a job every 500 lines among its tools'
output. It is archived as CollectLogs does (archive_run_log, into a moto server over HTTP), then the report is
written both ways. Printed: the GETs and bytes each read, and the seconds each took; also what reading along
costs the archive (the same log archived with and without it).

Prints a table and writes benchmarks/results/report_reads.json. Usage: python benchmarks/report_reads.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
sys.path[:0] = [str(ROOT / "functions" / "common"), str(ROOT / "client"), str(ROOT / "benchmarks")]
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

from run import FakeLogs, _moto_server, _s3  # noqa: E402 - after the path above

BUCKET = "bench"
RUN_ID = "bench-0123456789"
OWNER = "AIDABENCHOWNER0001"
LINES_PER_JOB = 500


def build_line(i: int) -> str:
    """Line i of the log: a job's block (stamp, rule, files, id) and its finish every LINES_PER_JOB lines,
    the tools' output between."""
    job, at = divmod(i, LINES_PER_JOB)
    stamp = f"[Mon Nov 30 {job // 3600 % 24:02d}:{job // 60 % 60:02d}:{job % 60:02d} 2026]"
    block = [
        stamp,
        f"rule align_{job % 11}:",
        f"    input: results/part{job - 1}.fasta, data/reference.gb",
        f"    output: results/part{job}.fasta",
        f"    jobid: {job + 1}",
        "    threads: 4",
    ]
    if at < len(block):
        return block[at]
    if at == LINES_PER_JOB - 2:
        return stamp
    if at == LINES_PER_JOB - 1:
        return f"Finished jobid: {job + 1} (Rule: align_{job % 11})"
    return f"augur align: sequence batch {i % 977} of part {job}: 1,024 sequences aligned, 0 dropped"


class SnakemakeLogs(FakeLogs):
    def get_log_events(self, **kwargs: Any) -> dict[str, Any]:
        start = int(kwargs.get("nextToken") or 0)
        end = min(start + self.PAGE, self.lines)
        events = [{"message": build_line(i)} for i in range(start, end)]
        return {"events": events, "nextForwardToken": str(end) if events else kwargs.get("nextToken")}


def reads(s3: Any) -> dict[str, int]:
    """Counts the client's GETs and the bytes their bodies held (a missing key's error too), from now on."""
    counted = {"gets": 0, "bytes": 0}

    def count(http_response: Any, **_: Any) -> None:
        counted["gets"] += 1
        counted["bytes"] += int(http_response.headers.get("Content-Length", 0))

    s3.meta.events.register("after-call.s3.GetObject", count, unique_id="report_reads")
    return counted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="100,000 lines, for a smoke run")
    options = parser.parse_args()
    lines = 100_000 if options.quick else 1_000_000

    from nsclient_common.describedjob import JobFacts
    from nsclient_common.layout import log_key, timeline_key
    from nsclient_common.logarchive import archive_log
    from nsclient_common.record import RunRecord, RunStatus
    from nsclient_common.reportstore import write_report
    from nsclient_common.settings import Settings
    from nsclient_common.wrapup import archive_run_log

    server, endpoint = _moto_server()
    try:
        s3 = _s3(endpoint)
        s3.create_bucket(Bucket=BUCKET)
        history = [JobFacts(log_stream="s", log_group="g")]
        started = time.perf_counter()
        archive_log(SnakemakeLogs(lines), s3, group="g", stream="s", bucket=BUCKET, key="plain/build.log")
        plain_seconds = time.perf_counter() - started
        started = time.perf_counter()
        archive_run_log(history, Settings(bucket=BUCKET), run_id=RUN_ID, owner=OWNER, logs=SnakemakeLogs(lines), s3=s3)
        archive_seconds = time.perf_counter() - started
        log_bytes = s3.head_object(Bucket=BUCKET, Key=log_key(RUN_ID, OWNER))["ContentLength"]
        timeline_bytes = s3.head_object(Bucket=BUCKET, Key=timeline_key(RUN_ID, OWNER))["ContentLength"]
        record = RunRecord(
            run_id=RUN_ID,
            owner=OWNER,
            status=RunStatus.SUCCEEDED,
            submitted_at="2026-11-30T00:00:00Z",
            started_at="2026-11-30T00:00:00Z",
            finished_at="2026-11-30T01:00:00Z",
            cpus=4,
            memory_mib=8192,
        )
        report = {}
        for source in ("timeline", "log"):
            if source == "log":  # as for a run archived before timelines were stored
                s3.delete_object(Bucket=BUCKET, Key=timeline_key(RUN_ID, OWNER))
            counted = reads(s3)
            started = time.perf_counter()
            write_report(s3, BUCKET, record)
            report[source] = {**counted, "seconds": time.perf_counter() - started}
            s3.meta.events.unregister("after-call.s3.GetObject", unique_id="report_reads")
    finally:
        server.stop()

    rows = [
        ("report from", "GETs", "bytes read", "seconds"),
        *((f"the {source}", str(r["gets"]), f"{r['bytes']:,}", f"{r['seconds']:.2f}") for source, r in report.items()),
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    print(f"{lines:,}-line log of {log_bytes:,} bytes; timeline beside it {timeline_bytes:,} bytes")
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    print(f"archiving it: {plain_seconds:.2f} s without reading along, {archive_seconds:.2f} s with (and the timeline)")
    result = {
        "lines": lines,
        "log_bytes": log_bytes,
        "timeline_bytes": timeline_bytes,
        "report_from_timeline": report["timeline"],
        "report_from_log": report["log"],
        "archive_seconds_plain": plain_seconds,
        "archive_seconds_reading_along": archive_seconds,
        "time": time.time(),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "report_reads-quick.json" if options.quick else "report_reads.json"
    (RESULTS / name).write_text(json.dumps(result, indent=2))
    print(f"wrote {RESULTS / name}")


if __name__ == "__main__":
    main()
