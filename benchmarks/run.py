"""Benchmarks: each compares two things side by side in one run (ratios), since these machines are noisy.

1. Log archiving: memory and time to archive 100,000 vs 1,000,000 log lines (CloudWatch pages of
   10,000 events) - memory must stay flat as the log grows tenfold.
2. Upload checking: bytes read from S3 to validate a large build zip from its central directory,
   vs the zip's size (what downloading it whole would read).
3. Pull: a second pull of the same results (the folder still holds them: one HEAD) vs the first.

Prints a table and writes benchmarks/results/latest.json. Usage: python benchmarks/run.py [--quick]
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import random
import sys
import tempfile
import time
import tracemalloc
import zipfile
from pathlib import Path
from typing import Any

import boto3

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


class FakeLogs:
    """A CloudWatch Logs client serving `lines` events in pages of 10,000, as GetLogEvents does."""

    PAGE = 10_000

    class exceptions:  # noqa: N801 - mirrors boto3's client.exceptions
        class ResourceNotFoundException(Exception):
            pass

    def __init__(self, lines: int):
        self.lines = lines

    def get_log_events(self, **kwargs: Any) -> dict[str, Any]:
        start = int(kwargs.get("nextToken") or 0)
        end = min(start + self.PAGE, self.lines)
        events = [{"message": f"[rule align] step {i}: aligned sequence batch {i % 977} ok"} for i in range(start, end)]
        return {"events": events, "nextForwardToken": str(end) if events else kwargs.get("nextToken")}


class CountingS3:
    """An S3 client that keeps only the byte count of what is written (the sink is not measured)."""

    def __init__(self) -> None:
        self.bytes = 0
        self.parts = 0

    def create_multipart_upload(self, **kwargs: Any) -> dict[str, str]:
        return {"UploadId": "u"}

    def upload_part(self, **kwargs: Any) -> dict[str, str]:
        self.bytes += len(kwargs["Body"])
        self.parts += 1
        return {"ETag": f'"{self.parts}"'}

    def complete_multipart_upload(self, **kwargs: Any) -> None:
        pass

    def put_object(self, **kwargs: Any) -> None:
        self.bytes += len(kwargs["Body"])

    def abort_multipart_upload(self, **kwargs: Any) -> None:
        pass


def bench_log_archive(lines: int) -> dict[str, Any]:
    from nsclient_common.logarchive import archive_log

    def archive() -> tuple[Any, CountingS3]:
        s3 = CountingS3()
        return archive_log(FakeLogs(lines), s3, stream="s", bucket="b", key="k"), s3

    # Timed and measured in separate runs: tracing allocations slows Python down several times.
    started = time.perf_counter()
    summary, s3 = archive()
    seconds = time.perf_counter() - started
    tracemalloc.start()
    archive()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert summary.lines == lines
    return {"lines": lines, "seconds": seconds, "peak_mib": peak / 2**20, "bytes": s3.bytes, "parts": s3.parts}


def _moto_server() -> tuple[Any, str]:
    from moto.server import ThreadedMotoServer

    from nsclient.local.daemon import free_port

    logging.getLogger("werkzeug").setLevel(logging.ERROR)

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    return server, f"http://127.0.0.1:{port}"


def _s3(endpoint: str) -> Any:
    factory: Any = boto3.client
    return factory(
        "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )


def _random_build_zip(path: Path, members: int, member_bytes: int) -> None:
    rng = random.Random(7)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("Snakefile", "rule all:\n    input: []\n")
        for i in range(members):
            archive.writestr(f"data/part{i:05d}.fasta", rng.randbytes(member_bytes))


def bench_upload_check(s3: Any, scratch: Path, size_mib: int) -> dict[str, Any]:
    from nsclient_common.s3io import S3RangeReader
    from nsclient_common.settings import Limits
    from nsclient_common.zipcheck import check_build_archive

    path = scratch / "build.zip"
    _random_build_zip(path, members=size_mib, member_bytes=2**20)
    s3.create_bucket(Bucket="bench")
    s3.upload_file(str(path), "bench", "inbox/build.zip")
    size = path.stat().st_size

    class CountingReader(S3RangeReader):
        bytes_read = 0

        def readinto(self, buffer: Any) -> int:
            count = super().readinto(buffer)
            self.bytes_read += count
            return count

    started = time.perf_counter()
    raw = CountingReader(s3, "bench", "inbox/build.zip", size=size)
    with io.BufferedReader(raw, buffer_size=256 * 1024) as handle:
        check_build_archive(handle, size, Limits())
    ranged_seconds = time.perf_counter() - started

    started = time.perf_counter()
    whole = s3.get_object(Bucket="bench", Key="inbox/build.zip")["Body"].read()
    check_build_archive(io.BytesIO(whole), size, Limits())
    whole_seconds = time.perf_counter() - started
    return {
        "zip_mib": size / 2**20,
        "range_requests": raw.requests,
        "ranged_bytes": raw.bytes_read,
        "ranged_seconds": ranged_seconds,
        "whole_bytes": len(whole),
        "whole_seconds": whole_seconds,
    }


def bench_pull(s3: Any, scratch: Path, files: int) -> dict[str, Any]:
    """The client's own pull (ranged GETs into the folder), first into an empty folder, then again."""
    from nsclient.transfer.pull import pull_workdir

    rng = random.Random(11)
    results = scratch / "results.zip"
    with zipfile.ZipFile(results, "w", zipfile.ZIP_DEFLATED) as archive:
        for i in range(files):
            archive.writestr(f"results/file{i:05d}.json", json.dumps({"i": i, "v": rng.random()}) * 200)
    s3.upload_file(str(results), "bench", "runs/r/workdir.zip")
    destination = scratch / "pulled"
    os.environ["NEXTSTRAIN_HOME"] = str(scratch / "home")  # what the pull remembers stays in the scratch folder
    timings = []
    for _ in range(2):
        started = time.perf_counter()
        _, written = pull_workdir(s3, "bench", "runs/r/workdir.zip", destination, [], [], quiet=True)
        timings.append((time.perf_counter() - started, len(written)))
    return {
        "files": files,
        "first_seconds": timings[0][0],
        "first_written": timings[0][1],
        "second_seconds": timings[1][0],
        "second_written": timings[1][1],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    options = parser.parse_args()
    sys.path[:0] = [str(ROOT / "functions" / "common"), str(ROOT / "client")]
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

    small, large = (10_000, 100_000) if options.quick else (100_000, 1_000_000)
    logs = [bench_log_archive(small), bench_log_archive(large)]
    server, endpoint = _moto_server()
    try:
        with tempfile.TemporaryDirectory() as scratch:
            upload = bench_upload_check(_s3(endpoint), Path(scratch), 16 if options.quick else 256)
            pull = bench_pull(_s3(endpoint), Path(scratch), 200 if options.quick else 2000)
    finally:
        server.stop()

    rows = [
        ("log archive", f"{small:,} lines", f"{logs[0]['seconds']:.2f} s", f"{logs[0]['peak_mib']:.1f} MiB peak", ""),
        (
            "log archive",
            f"{large:,} lines",
            f"{logs[1]['seconds']:.2f} s",
            f"{logs[1]['peak_mib']:.1f} MiB peak",
            f"memory x{logs[1]['peak_mib'] / logs[0]['peak_mib']:.2f} for x10 lines",
        ),
        (
            "upload check",
            f"{upload['zip_mib']:.0f} MiB zip",
            f"{upload['ranged_seconds']:.3f} s ranged",
            f"{upload['ranged_bytes'] / 1024:.0f} KiB read in {upload['range_requests']} GETs",
            # Bytes, not seconds: moto slices a ranged GET out of the whole object, so its timing says nothing.
            f"{upload['whole_bytes'] / upload['ranged_bytes']:,.0f}x fewer bytes than reading it whole",
        ),
        (
            "pull",
            f"{pull['files']:,} files",
            f"{pull['first_seconds']:.2f} s first",
            f"{pull['second_seconds']:.2f} s again",
            f"second pull wrote {pull['second_written']} files, "
            f"{pull['first_seconds'] / pull['second_seconds']:.1f}x faster",
        ),
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    RESULTS.mkdir(parents=True, exist_ok=True)
    report = {"log_archive": logs, "upload_check": upload, "pull": pull, "quick": options.quick, "time": time.time()}
    (RESULTS / "latest.json").write_text(json.dumps(report, indent=2))
    print(f"wrote {RESULTS / 'latest.json'}")


if __name__ == "__main__":
    main()
