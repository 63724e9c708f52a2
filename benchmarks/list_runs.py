"""`nsclient list` for a person with many runs, on the local backend: the default listing and --all.

Starts a local backend of its own, then writes --runs runs (5,000) into the local person's folder as the
backend leaves a finished run: the record and its run-index summary (runstore.write_record), the results
(workdir.zip), the log, the notice marker and the report, submitted over the last 400 days (so the default
30-day window holds about one run in thirteen), in an index begun before the first of them (its markers,
runindex.begun_key and since_key, written first: the runs are written now, but as if over those days).
Then times `nsclient list` and `nsclient list --all` as a person runs them, each its own process,
interleaved, --repeats times (medians), wall time from start to exit with the interpreter's start-up;
peak RSS and CPU seconds are each process's own, measured by /usr/bin/time (a small parent, so nothing of
this process's memory is in it); the machine's load average is noted, as the wall times depend on it.
--code times another checkout's client against the same bucket (for before and after). Writes flat JSON
(--output).

Usage: python benchmarks/list_runs.py [--runs 5000] [--repeats 3] [--code DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "functions" / "common")]
from nsclient_common.layout import log_key, notice_key, report_html_key, workdir_key  # noqa: E402
from nsclient_common.record import RunRecord, iso_utc  # noqa: E402
from nsclient_common.runid import new_upload_name, run_id_for_upload  # noqa: E402
from nsclient_common.runindex import begun_key, since_key  # noqa: E402
from nsclient_common.runstore import write_record  # noqa: E402

LISTINGS = {"list": ("list",), "list-all": ("list", "--all")}


def _environment(scratch: Path, code: Path) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "NEXTSTRAIN_", "NSCLIENT_"))}
    return {
        **environment,
        "NEXTSTRAIN_HOME": str(scratch / "home"),
        "NSCLIENT_LOCAL_DIR": str(scratch / "local"),
        "PYTHONPATH": os.pathsep.join(str(code / p) for p in ("client", "functions/common", "")),
    }


def _local_env(environment: dict[str, str]) -> dict[str, str]:
    """The variables `nsclient local env` exports: the local person's endpoint, keys and bucket."""
    printed = subprocess.run(
        [sys.executable, "-m", "nsclient", "local", "env"], env=environment, capture_output=True, text=True, check=True
    ).stdout
    pairs = (line.removeprefix("export ").split("=", 1) for line in printed.splitlines() if line.startswith("export "))
    return {name: value.strip("'\"") for name, value in pairs}


def fill(local: dict[str, str], admin: dict[str, Any], runs: int) -> str:
    """Write `runs` finished runs of the local person's; their owner id."""
    endpoint, bucket = local["AWS_ENDPOINT_URL"], local["NSCLIENT_LOCAL_BUCKET"]
    person: Any = boto3.client(
        "sts", endpoint_url=endpoint, region_name=local["AWS_DEFAULT_REGION"],
        aws_access_key_id=local["AWS_ACCESS_KEY_ID"], aws_secret_access_key=local["AWS_SECRET_ACCESS_KEY"],
    )  # fmt: skip
    owner = str(person.get_caller_identity()["UserId"])
    s3: Any = boto3.client(
        "s3", endpoint_url=endpoint, region_name=local["AWS_DEFAULT_REGION"],
        aws_access_key_id=admin["access_key_id"], aws_secret_access_key=admin["secret_access_key"],
        aws_session_token=admin.get("session_token"),
    )  # fmt: skip
    rng = random.Random(5)
    now = datetime.now(UTC)
    for key in (begun_key(owner), since_key(owner, now - timedelta(days=401))):
        s3.put_object(Bucket=bucket, Key=key, Body=b"")

    def write(number: int) -> None:
        submitted = now - timedelta(seconds=rng.uniform(60, 400 * 86400))
        name = new_upload_name(f"build{number}", submitted)
        run_id = run_id_for_upload(f"inbox/{owner}/{name}.zip", f"v{number}")
        started = submitted + timedelta(minutes=2)
        record = RunRecord(
            run_id=run_id,
            owner=owner,
            status="SUCCEEDED" if number % 7 else "FAILED",
            failure_class=None if number % 7 else "exit-code",
            submitted_at=iso_utc(submitted),
            started_at=iso_utc(started),
            finished_at=iso_utc(started + timedelta(minutes=rng.uniform(5, 300))),
            cpus=4,
            memory_mib=8192,
            submitter="bench",
        )
        write_record(s3, bucket, record)
        for key in (workdir_key, log_key, notice_key, report_html_key):
            s3.put_object(Bucket=bucket, Key=key(run_id, owner), Body=b"x" * 200)

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(write, range(runs)))
    return owner


def _timed(environment: dict[str, str], arguments: tuple[str, ...], scratch: Path) -> tuple[float, float, int, float]:
    """Seconds from start to exit, peak RSS in MB, the rows listed and the process's own CPU seconds (user
    and system: what the machine's other load does not change, unlike the wall time)."""
    usage = scratch / "time.out"
    command = ["/usr/bin/time", "-f", "%U %S %M", "-o", str(usage), sys.executable, "-m", "nsclient", *arguments]
    started = time.perf_counter()
    done = subprocess.run(command, env=environment, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"nsclient {' '.join(arguments)} failed: {done.stderr[-2000:]}")
    rows = max(0, len(done.stdout.splitlines()) - 1)  # less the header
    user, system, peak = usage.read_text().split()[-3:]
    return seconds, int(peak) / 1024, rows, float(user) + float(system)


def where_time_goes(environment: dict[str, str]) -> dict[str, Any]:
    """`list --all`'s S3 requests, made in this process: how many and their time (the rest is Python)."""
    os.environ.update({k: v for k, v in environment.items() if k.startswith(("NEXTSTRAIN_", "NSCLIENT_"))})
    sys.path[:0] = [str(ROOT / "client")]
    from nsclient.backend import connect
    from nsclient.runs.records import list_records

    backend = connect("local", start_local=False)
    s3 = backend.client("s3")
    calls: list[tuple[str, float]] = []
    began: dict[int, float] = {}

    def before(**kwargs: Any) -> None:
        began[id(kwargs["context"])] = time.perf_counter()

    def after(event_name: str, **kwargs: Any) -> None:
        calls.append((event_name.rsplit(".", 1)[-1], time.perf_counter() - began.pop(id(kwargs["context"]))))

    s3.meta.events.register("before-call.s3", before)
    s3.meta.events.register("after-call.s3", after)
    started = time.perf_counter()
    records = list_records(backend, None)
    total = time.perf_counter() - started
    pages = [seconds for name, seconds in calls if name == "ListObjectsV2"]
    reads = [seconds for name, seconds in calls if name == "GetObject"]
    print(
        f"list --all in this process: {total:.2f} s for {len(records):,} runs; {len(pages)} ListObjectsV2 pages "
        f"({sum(pages):.2f} s), {len(reads)} GETs ({sum(reads):.2f} s)"
    )
    return {
        "list_all_in_process_seconds": total,
        "list_all_list_pages": len(pages),
        "list_all_list_pages_seconds": sum(pages),
        "list_all_record_gets": len(reads),
    }


def run(runs: int, repeats: int, code: Path) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="nslist-") as scratch_name:
        scratch = Path(scratch_name)
        environment = _environment(scratch, ROOT)
        started = subprocess.run([sys.executable, "-m", "nsclient", "local", "start"], env=environment, text=True,
                                 capture_output=True)  # fmt: skip
        if started.returncode != 0:
            raise RuntimeError(started.stderr)
        try:
            local = _local_env(environment)
            admin = json.loads((scratch / "local" / "admin.json").read_text())
            began = time.perf_counter()
            fill(local, admin, runs)
            print(f"wrote {runs:,} runs of five objects in {time.perf_counter() - began:.0f} s", flush=True)
            timed = _environment(scratch, code)
            seconds: dict[str, list[float]] = {name: [] for name in LISTINGS}
            rss: dict[str, list[float]] = {name: [] for name in LISTINGS}
            cpu: dict[str, list[float]] = {name: [] for name in LISTINGS}
            load_before = os.getloadavg()[0]
            listed: dict[str, int] = {}
            for repeat in range(repeats):
                for name, arguments in LISTINGS.items():
                    took, peak, rows, used = _timed(timed, arguments, scratch)
                    seconds[name].append(took)
                    cpu[name].append(used)
                    rss[name].append(peak)
                    listed[name] = rows
                    print(
                        f"  #{repeat + 1} nsclient {' '.join(arguments):12} {took:6.2f} s {peak:5.0f} MB {rows:5} runs "
                        f"{used:5.2f} s CPU"
                    )
            load_after = os.getloadavg()[0]
            requests = where_time_goes(timed) if code == ROOT else {}
        finally:
            subprocess.run([sys.executable, "-m", "nsclient", "local", "stop", "--force"], env=environment,
                           capture_output=True)  # fmt: skip
    return {
        **requests,
        "list_runs_in_bucket": runs,
        f"list_{runs}_runs_seconds": statistics.median(seconds["list"]),
        f"list_all_{runs}_runs_seconds": statistics.median(seconds["list-all"]),
        f"list_{runs}_runs_listed": listed["list"],
        f"list_all_{runs}_runs_listed": listed["list-all"],
        f"list_{runs}_runs_peak_rss_mb": max(rss["list"]),
        f"list_all_{runs}_runs_peak_rss_mb": max(rss["list-all"]),
        f"list_{runs}_runs_client_cpu_seconds": statistics.median(cpu["list"]),
        f"list_all_{runs}_runs_client_cpu_seconds": statistics.median(cpu["list-all"]),
        "list_load_average_before": round(load_before, 2),  # the machine's, over a minute
        "list_load_average_after": round(load_after, 2),
        "list_repeats": repeats,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--code", type=Path, default=ROOT, help="the checkout whose client is timed")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "list.json")
    options = parser.parse_args()
    report = run(options.runs, options.repeats, options.code)
    for key, value in report.items():
        print(f"{key:38} {value}")
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(json.dumps({**report, "time": time.time()}, indent=2, sort_keys=True) + "\n")
    print(f"wrote {options.output}")


if __name__ == "__main__":
    main()
