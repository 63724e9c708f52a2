"""Where a loopback push or pull spends its time: one transfer under cProfile, its top lines by own time.

Runs the operation in this process against a moto S3 server on 127.0.0.1, on the transfer benchmark's
data (benchmarks/makedata.py; --compressed for the build whose large inputs are xz, zstd and gzip).
A pull goes into a copy of the build folder, as in the benchmark. Threads other than the main one are
profiled too (threading.setprofile), so the compressors' and the upload's time shows.

Usage: python benchmarks/profile_transfer.py push|pull [--compressed] [--lines 25]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import transfer  # noqa: E402
from transfer_ops import BUCKET, RESULTS_KEY  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("operation", choices=("push", "pull"))
    parser.add_argument("--compressed", action="store_true")
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--lines", type=int, default=25)
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "nsclient-bench-data")
    options = parser.parse_args()
    sys.path[:0] = [str(transfer.ROOT / "client"), str(transfer.ROOT / "functions" / "common")]
    folder = f"{options.size_mb}-compressed" if options.compressed else str(options.size_mb)
    data = transfer.prepare_data(options.data / folder, options.size_mb, options.compressed)
    with tempfile.TemporaryDirectory(prefix="nsprofile-") as scratch:
        env = transfer._environment(f"http://127.0.0.1:{transfer.PORT}", Path(scratch) / "home")
        server = transfer._start_server(None, "127.0.0.1", env)
        try:
            transfer._seed_bucket(env, data)
            os.environ.update({k: v for k, v in env.items() if k.startswith(("AWS_", "NEXTSTRAIN_"))})
            profile(options.operation, data, Path(scratch), options.lines)
        finally:
            server.terminate()
            server.wait()


def profile(operation: str, data: Path, scratch: Path, lines: int) -> None:
    import boto3
    from botocore.config import Config

    from nsclient.progress import Progress
    from nsclient.transfer.folder import upload_members
    from nsclient.transfer.pull import pull_workdir
    from nsclient.transfer.push import upload_build

    factory: Any = boto3.client
    s3 = factory("s3", config=Config(max_pool_connections=16))
    destination = scratch / "pulled"
    if operation == "pull":
        shutil.copytree(data / "build", destination)
    profiles: list[cProfile.Profile] = []

    def in_thread(*_: object) -> None:  # each thread's own profiler, replacing this hook on its first event
        own = cProfile.Profile()
        profiles.append(own)
        own.enable()

    main = cProfile.Profile()
    threading.setprofile(in_thread)
    started = time.perf_counter()
    main.enable()
    if operation == "push":
        upload_build(s3, BUCKET, "inbox/profiled.zip", upload_members(data / "build"), {}, Progress("", 0, quiet=True))
    else:
        pull_workdir(s3, BUCKET, RESULTS_KEY, destination, [], [], quiet=True)
    main.disable()
    seconds = time.perf_counter() - started
    threading.setprofile(None)
    for own in profiles:
        own.disable()
    out = io.StringIO()
    stats = pstats.Stats(main, stream=out)
    for own in profiles:
        stats.add(own)
    stats.sort_stats("tottime").print_stats(lines)
    print(f"{operation} ({data.name}): {seconds:.2f} s wall; own time summed over {1 + len(profiles)} threads")
    print(out.getvalue())


if __name__ == "__main__":
    main()
