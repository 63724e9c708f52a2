"""Many people pushing at once, on the local backend: every push becomes exactly one run and one notice.

Starts a local backend of its own (its own data folder and NEXTSTRAIN_HOME), pushes N tiny builds
at the same moment (each `nsclient push` its own process, as N people would), waits for every run
to end, then counts runs, duplicates (executions beyond one per upload) and notices in the outbox,
and measures each run's latency from its push returning to its job running (the run record's
started_at; one clock, this machine's) and the memory of the backend and of every process under it
(ProcessTreeMemory says which it sums).

Usage: python benchmarks/scale.py [--pushes 50] [--job-seconds 0] [--output benchmarks/results/scale.json]
                                  [--memory-profile FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3

ROOT = Path(__file__).resolve().parents[1]

sys.path[:0] = [str(ROOT / "functions" / "common"), str(ROOT / "client")]
from nsclient.local.memory_profile import PROFILE_VARIABLE, status_mb  # noqa: E402
from nsclient_common.cost import LAMBDA_GB_SECOND_USD, STATE_TRANSITION_USD  # noqa: E402
from nsclient_common.record import RunStatus  # noqa: E402

KEPT_LOG = Path(tempfile.gettempdir()) / "nsscale-backend.log"
SNAKEFILE = 'rule all:\n    output: "results/done.txt"\n    shell: "SLEEP echo NUMBER > {output}"\n'


def _environment(scratch: Path, memory_profile: Path | None) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "NEXTSTRAIN_", "NSCLIENT_"))}
    if memory_profile is not None:  # the backend reports where its memory goes (memory_profile.py)
        environment |= {k: v for k, v in os.environ.items() if k.startswith(PROFILE_VARIABLE)}
        environment[PROFILE_VARIABLE] = str(memory_profile.resolve())
    return {
        **environment,
        "NEXTSTRAIN_HOME": str(scratch / "home"),
        "NSCLIENT_LOCAL_DIR": str(scratch / "local"),
        "PYTHONPATH": os.pathsep.join(str(ROOT / p) for p in ("client", "functions/common", "")),
    }


def _nsclient(environment: dict[str, str], *arguments: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "nsclient", *arguments]
    return subprocess.run(command, env=environment, capture_output=True, text=True, check=False)


def _push(environment: dict[str, str], build: Path) -> tuple[str, float]:
    """The run id the push printed, and when it printed it: the upload is done then (the process's
    exit comes later, slowed by fifty others exiting at once)."""
    command = [sys.executable, "-m", "nsclient", "push", str(build)]
    process = subprocess.Popen(command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    run_id = process.stdout.readline().strip()
    uploaded = time.time()
    _, err = process.communicate()
    if process.returncode != 0 or not run_id:
        raise RuntimeError(f"push of {build.name} failed: {err[-1500:]}")
    return run_id, uploaded


class ProcessTreeMemory(threading.Thread):
    """The backend's process and every process under it (the Node.js IAM evaluator, each Batch job's
    entrypoint, snakemake and rule commands), sampled every half second: each process's own peak
    (VmHWM in /proc/<pid>/status, which counts only that process, not its children) and the largest sum
    of their resident sets (VmRSS) seen at one moment."""

    def __init__(self, root: int):
        super().__init__(daemon=True, name="process-tree-memory")
        self.root = root
        self.peaks: dict[int, tuple[str, float]] = {}  # pid -> (its kind, its VmHWM in MB)
        self.tree_peak_mb = 0.0
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(0.5):
            self.sample()

    def sample(self) -> None:
        total = 0.0
        for pid in self._tree():
            memory = status_mb(pid)
            if memory:
                total += memory["VmRSS"]
                self.peaks[pid] = (self._kind(pid), max(memory["VmHWM"], self.peaks.get(pid, ("", 0.0))[1]))
        self.tree_peak_mb = max(self.tree_peak_mb, total)

    def _tree(self) -> list[int]:
        children: dict[int, list[int]] = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # gone since listed
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
        tree, pending = [], [self.root]
        while pending:
            pid = pending.pop()
            tree.append(pid)
            pending += children.get(pid, [])
        return tree

    def _kind(self, pid: int) -> str:
        if pid == self.root:
            return "backend"
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return "gone"
        if b"evaluator" in b" ".join(command):
            return "iam-evaluator"
        if b"nsclient.local.entrypoint" in command:
            return "job-entrypoint"
        return "job-" + Path(command[0].decode(errors="replace")).name

    def report(self) -> dict[str, Any]:
        self.stopping.set()
        self.join()
        self.sample()  # the backend's own VmHWM as it ends the benchmark: its peak over the whole run
        by_kind: dict[str, float] = {}
        for kind, peak in self.peaks.values():
            by_kind[kind] = max(by_kind.get(kind, 0.0), peak)
        return {
            "scale_backend_peak_rss_mb": self.peaks[self.root][1],
            "scale_process_peak_rss_mb_by_kind": dict(sorted(by_kind.items())),
            "scale_processes_sampled": len(self.peaks),
            "scale_tree_peak_rss_mb": self.tree_peak_mb,
            "scale_rss_measured": (
                "backend: the backend process's own VmHWM (its threads included, no child process); "
                "by kind: the largest VmHWM of any one process of that kind under the backend; "
                "tree: the largest sum of VmRSS over the backend and every process under it, sampled every 0.5 s"
            ),
        }


def _timestamp(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def orchestration(history: list[dict[str, Any]]) -> dict[str, Any]:
    """What one successful run's execution cost to orchestrate, from its history: the state transitions
    Step Functions bills, and the Lambda invocations with their running time."""
    transitions = sum(1 for event in history if event["type"].endswith("StateEntered"))
    # A Task naming its function as Resource logs LambdaFunction* events; lambda:invoke logs Task* ones.
    lambda_seconds, invocations, started, is_lambda = 0.0, 0, None, False
    for event in history:
        kind = event["type"]
        if kind in ("TaskScheduled", "LambdaFunctionScheduled"):
            is_lambda = kind == "LambdaFunctionScheduled" or (
                event["taskScheduledEventDetails"]["resourceType"] == "lambda"
            )
            invocations += is_lambda
        elif kind in ("TaskStarted", "LambdaFunctionStarted") and is_lambda:
            started = event["timestamp"]
        elif kind.endswith(("Succeeded", "Failed")) and kind.startswith(("Task", "LambdaFunction")) and started:
            lambda_seconds += (event["timestamp"] - started).total_seconds()
            started = None
    # Lambda's request charge, and the template's Globals MemorySize (512 MB) for every function: the local
    # runtime's seconds are a loaded laptop's, longer than Lambda's, so this is an upper bound.
    request_usd, memory_gb = 0.20 / 1_000_000, 0.5
    usd = transitions * STATE_TRANSITION_USD + invocations * request_usd
    usd += lambda_seconds * memory_gb * LAMBDA_GB_SECOND_USD
    # The same run orchestrated by a loop polling its job every 60 s for 4 hours: a Wait and a check per
    # minute (a Wait, the check, a Choice: three transitions, 720 in all) and one short Lambda call (0.1 s) each.
    polls = 4 * 60
    polling_usd = usd + polls * (3 * STATE_TRANSITION_USD + request_usd + 0.1 * memory_gb * LAMBDA_GB_SECOND_USD)
    return {
        "orchestration_usd_per_run": usd,
        "polling_loop_usd_per_4h_run": polling_usd,
        "polling_loop_transitions_per_4h_run": transitions + 3 * polls,
        "transitions_per_run": transitions,
        "lambda_invocations_per_run": invocations,
        "lambda_seconds_per_run_local": lambda_seconds,
    }


def run(pushes: int, timeout: float, memory_profile: Path | None = None, job_seconds: int = 0) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="nsscale-") as scratch_name:
        scratch = Path(scratch_name)
        environment = _environment(scratch, memory_profile)
        started = _nsclient(environment, "local", "start")
        if started.returncode != 0:
            raise RuntimeError(started.stderr)
        state = json.loads((scratch / "local" / "state.json").read_text())
        memory = ProcessTreeMemory(int(state["pid"]))
        memory.start()
        try:
            builds = []
            for n in range(pushes):
                build = scratch / "builds" / f"tiny{n:03d}"
                build.mkdir(parents=True)
                snakefile = SNAKEFILE.replace("NUMBER", str(n)).replace(
                    "SLEEP ", f"sleep {job_seconds} && " if job_seconds else ""
                )
                (build / "Snakefile").write_text(snakefile)
                builds.append(build)
            began = time.time()
            with ThreadPoolExecutor(pushes) as pool:
                pushed = dict(pool.map(lambda build: _push(environment, build), builds))
            pushed_in = time.time() - began
            # Looked on as the backend's administrator: strict IAM refuses anyone else everyone's executions.
            admin = json.loads((scratch / "local" / "admin.json").read_text())
            sfn: Any = boto3.client(
                "stepfunctions", endpoint_url=state["endpoint_url"], region_name="us-east-1",
                aws_access_key_id=admin["access_key_id"], aws_secret_access_key=admin["secret_access_key"],
                aws_session_token=admin.get("session_token"),
            )  # fmt: skip
            deadline = time.monotonic() + timeout
            while True:
                listed = _nsclient(environment, "list", "--all", "--json")
                records = json.loads(listed.stdout) if listed.returncode == 0 else []
                ended = [r for r in records if RunStatus(r["status"]).is_final]
                if len(ended) >= pushes or time.monotonic() > deadline:
                    break
                time.sleep(2)
            all_done = time.time() - began
            executions = []
            pages = sfn.get_paginator("list_executions").paginate(stateMachineArn=state["state_machine_arn"])
            for page in pages:
                executions += page["executions"]
            by_id = {r["run_id"]: r for r in records}
            latencies = [
                _timestamp(by_id[run_id]["started_at"]) - returned
                for run_id, returned in pushed.items()
                if by_id.get(run_id, {}).get("started_at")
            ]
            succeeded = [e for e in executions if e["status"] == "SUCCEEDED"]
            history = []
            if succeeded:
                history = sfn.get_execution_history(executionArn=succeeded[0]["executionArn"])["events"]
            notices = list(Path(state["outbox"]).glob("*.eml"))
            return {
                "scale_pushes": pushes,
                "scale_runs": len({r["run_id"] for r in records} & set(pushed)),
                "scale_runs_succeeded": sum(1 for r in records if r["status"] == "SUCCEEDED"),
                "scale_run_statuses": dict(Counter(r["status"] for r in records)),
                "scale_failures": dict(
                    Counter(
                        f"{r.get('failure_class')}: {(r.get('reason') or '')[:200]}"
                        for r in records
                        if r["status"] != "SUCCEEDED"
                    )
                ),
                "scale_duplicates": len(executions) - len({e["name"] for e in executions}) + len(records) - pushes,
                "scale_notices": len(notices),
                "scale_latency_median_s": statistics.median(latencies) if latencies else None,
                "scale_latency_max_s": max(latencies) if latencies else None,
                "scale_pushes_seconds": pushed_in,
                "scale_all_ended_seconds": all_done,
                **memory.report(),
                **orchestration(history),
            }
        finally:
            _nsclient(environment, "local", "stop")
            log = scratch / "local" / "backend.log"
            if log.exists():  # kept past the scratch folder: why a run failed is in it
                shutil.copy(log, KEPT_LOG)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pushes", type=int, default=50)
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "scale.json")
    parser.add_argument(
        "--job-seconds",
        type=int,
        default=0,
        help="each build's rule sleeps this long first, so that every run is in flight at once (the worst case)",
    )
    parser.add_argument(
        "--memory-profile",
        type=Path,
        metavar="FILE",
        help="the backend appends where its memory goes to FILE (tracemalloc: slower, and its peak is not comparable)",
    )
    options = parser.parse_args()
    report = run(options.pushes, options.timeout, options.memory_profile, options.job_seconds)
    report["scale_job_seconds"] = options.job_seconds
    width = max(map(len, report))
    for key, value in report.items():
        print(f"{key:{width}}  {value:.2f}" if isinstance(value, float) else f"{key:{width}}  {value}")
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(json.dumps({**report, "time": time.time()}, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
