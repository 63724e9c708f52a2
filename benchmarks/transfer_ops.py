"""One timed transfer, run as its own process (so its peak RSS is its own) by benchmarks/transfer.py.

Runs under the project's Python (nsclient operations) or the baseline venv's (the Nextstrain CLI's
upload_workdir / download_workdir). The S3 endpoint comes from AWS_ENDPOINT_URL. Prints
{"seconds": ..., "peak_rss_mb": ...}: the transfer alone, without interpreter start-up or imports, and
this process's own peak RSS (VmHWM: exec started it afresh, so nothing of the parent's is in it).
"""

from __future__ import annotations

import contextlib
import inspect
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

BUCKET = "bench"
RESULTS_KEY = "runs/r/workdir.zip"


def nextstrain_cli(operation: str, path: Path, name: str) -> float:
    from nextstrain.cli.runner.aws_batch import s3

    with Path(os.devnull).open("w") as quiet, contextlib.redirect_stdout(quiet):  # it prints a line per file
        started = time.perf_counter()
        if operation == "ns-upload":
            s3.upload_workdir(path, s3.bucket(BUCKET), name)
        else:
            s3.download_workdir(s3.bucket(BUCKET).Object(RESULTS_KEY), path)
        return time.perf_counter() - started


def nsclient(operation: str, path: Path, name: str) -> float:
    import boto3
    from botocore.config import Config

    from nsclient.progress import Progress
    from nsclient.transfer.folder import upload_members
    from nsclient.transfer.pull import pull_workdir
    from nsclient.transfer.push import upload_build
    from nsclient.transfer.upload import StreamingUpload

    factory: Any = boto3.client
    s3 = factory("s3", config=Config(max_pool_connections=16))
    started = time.perf_counter()
    if operation == "push":
        members = list(upload_members(path))
        upload_build(s3, BUCKET, f"inbox/{name}.zip", members, {}, Progress("", 0, quiet=True))
    elif operation == "raw-upload":  # the same compressed bytes, sent the same way, without zipping
        with StreamingUpload(s3, BUCKET, f"raw/{name}.zip", {}) as upload, path.open("rb") as handle:
            while chunk := handle.read(1024 * 1024):
                upload.write(chunk)
    else:  # pull, repull: given the upload's version as the run record names it, where pull takes it
        named = {"input_version": os.environ["BENCH_INPUT_VERSION"]}
        takes_version = "input_version" in inspect.signature(pull_workdir).parameters
        pull_workdir(s3, BUCKET, RESULTS_KEY, path, [], [], quiet=True, **(named if takes_version else {}))
    return time.perf_counter() - started


def archive_log(lines: int) -> float:
    """CollectLogs' archiving of a `lines`-line log (CloudWatch pages served from memory, S3 counted)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from run import CountingS3, FakeLogs

    from nsclient_common.logarchive import archive_log

    started = time.perf_counter()
    summary = archive_log(FakeLogs(lines), CountingS3(), stream="s", bucket="b", key="k")
    assert summary.lines == lines
    return time.perf_counter() - started


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM), in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def main() -> None:
    operation, path, name = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    if operation == "logs":
        seconds = archive_log(int(name))
    else:
        run = nextstrain_cli if operation.startswith("ns-") else nsclient
        seconds = run(operation, path, name)
    print(json.dumps({"seconds": seconds, "peak_rss_mb": peak_rss_mb()}))


if __name__ == "__main__":
    main()
