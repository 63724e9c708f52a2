"""Batch without Docker: each job's command runs as a local process group.

moto would start a Docker container per job. Here a job goes SUBMITTED -> PENDING -> RUNNABLE ->
STARTING -> RUNNING as a process (the stock image's entrypoint becomes nsclient.local.entrypoint, in
a scratch folder standing for the container's / that is removed after the job however it ended),
its output shipped to CloudWatch Logs as the awslogs driver ships it, and it ends SUCCEEDED or FAILED
with Batch's own reasons. The parts of Batch builds notice are played too:

- attemptDurationSeconds: a job running past it is killed ("Job attempt duration exceeded timeout");
- TerminateJob: the whole process group is killed, a waiting job never starts;
- a job asking for more vCPUs than the compute environment has waits RUNNABLE
  (MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE) until the queue's jobStateTimeLimitActions
  cancels it, if that action covers its reason;
- disruptions: what AWS does to jobs on its own (a reclaimed Spot host, the OOM killer), injected by
  whoever registers a hook (the tests do).

This module knows nothing of moto: moto_fixes.py hands each job over as a BatchJob.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from nsclient.local.entrypoint import ROOT_VAR

if TYPE_CHECKING:
    from collections.abc import Callable

    from nsclient.local.container_credentials import ContainerCredentialsEndpoint

ENTRYPOINT = "/sbin/entrypoint-aws-batch"
SIGKILL_EXIT = 137
SCRATCH_PREFIX = "nsclient-job-"
# Batch's own texts (see nsclient_common.failure, which classifies them).
ESSENTIAL_CONTAINER_EXITED = "Essential container in task exited"
ATTEMPT_TIMEOUT = "Job attempt duration exceeded timeout"
COMPUTE_ENVIRONMENT_MAX_RESOURCE = "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE"
COMPUTE_ENVIRONMENT_MAX_RESOURCE_WAIT = (
    f"{COMPUTE_ENVIRONMENT_MAX_RESOURCE} - CE(s) associated with the job queue cannot meet the CPU requirement "
    "of the job."
)
POLL_SECONDS = 0.1


class BatchJob(Protocol):
    """A Batch job as this runtime drives it (moto_fixes.MotoBatchJob is moto's)."""

    job_id: str
    name: str
    queue: str
    reason: str | None  # the job's statusReason
    container_reason: str  # container.reason (e.g. the OOM killer's)

    @property
    def stop_requested(self) -> bool: ...  # a TerminateJob (or cancel) was asked for

    def environment(self) -> dict[str, str]: ...
    def command(self) -> list[str]: ...
    def requested_vcpus(self) -> int: ...
    def job_role_arn(self) -> str | None: ...
    def attempt_duration(self) -> int | None: ...
    def limit_attempt(self, seconds: int) -> None: ...
    def enter(self, status: str) -> None: ...
    def start(self) -> None: ...  # STARTING -> RUNNING, with its log stream
    def finish(self, exit_code: int | None, *, success: bool) -> None: ...
    def terminate(self, reason: str) -> None: ...
    def put_log_events(self, events: list[dict[str, Any]]) -> None: ...


@dataclass
class Disruption:
    """Something AWS does to a job that the runtime would not do on its own, with Batch's reasons."""

    # The container dies this long after it started running, with these reasons and exit code.
    kill_after_seconds: float | None = None
    status_reason: str = ""
    container_reason: str = ""
    exit_code: int | None = SIGKILL_EXIT
    # The job's attemptDurationSeconds, as if its definition or SubmitJob had set it.
    attempt_duration_seconds: int | None = None
    # The job waits RUNNABLE with this statusReason (until a queue action or a TerminateJob ends it).
    blocked_reason: str | None = None


@dataclass
class BatchRuntime:
    """How the stack's Batch runs jobs here, and the jobs it is running.

    A job asking for more vCPUs than max_vcpus waits RUNNABLE, as Batch reports it; after
    runnable_timeout_seconds the queue's jobStateTimeLimitActions cancels it if its reason is
    stuck_reason (0: the queue has no such action).
    """

    endpoint_url: str
    region: str
    max_vcpus: int = 64
    runnable_timeout_seconds: int = 0
    stuck_reason: str = COMPUTE_ENVIRONMENT_MAX_RESOURCE
    # Serves each job its definition's job role, as ECS's agent does (None: jobs get no AWS identity).
    credentials: ContainerCredentialsEndpoint | None = None
    # Hooks given each job as it starts; the first disruption one returns is inflicted on it.
    disruptions: list[Callable[[BatchJob], Disruption | None]] = field(default_factory=list)
    # The jobs in progress, and the process group of each one running, by job id.
    _jobs: dict[str, BatchJob] = field(default_factory=dict, init=False, repr=False)
    _process_groups: dict[str, int] = field(default_factory=dict, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    # --- the jobs in progress ---

    def jobs_in_progress(self) -> list[BatchJob]:
        with self._lock:
            return list(self._jobs.values())

    def terminate_all(self, reason: str) -> None:
        """TerminateJob every job in progress: a running one's process group is killed, a waiting one never starts."""
        for job in self.jobs_in_progress():
            job.terminate(reason)

    def wait_until_idle(self, timeout: float) -> bool:
        """Wait (bounded) until no job is in progress; whether none is."""
        deadline = time.monotonic() + timeout
        while self.jobs_in_progress():
            if time.monotonic() > deadline:
                return False
            time.sleep(POLL_SECONDS)
        return True

    def kill_all(self) -> None:
        """The last resort: kill every job's process group at once."""
        with self._lock:
            groups = list(self._process_groups.values())
        for group in groups:
            _kill_group(group)

    # --- one job ---

    def run(self, job: BatchJob) -> None:
        """SUBMITTED -> ... -> RUNNING as a local process -> SUCCEEDED/FAILED."""
        with self._lock:
            self._jobs[job.job_id] = job
        try:
            self._run(job)
        except Exception:  # the job fails, as a container that cannot start does; the reason says why
            job.reason = "CannotStartContainerError: " + traceback.format_exc(limit=3)[-500:]
            job.finish(None, success=False)
        finally:
            with self._lock:
                self._jobs.pop(job.job_id, None)
                self._process_groups.pop(job.job_id, None)

    def _run(self, job: BatchJob) -> None:
        for status in ("PENDING", "RUNNABLE"):
            job.enter(status)
        disruption = self._disruption_for(job)
        blocked = self._blocked_reason(job, disruption)
        if blocked:
            self._wait_runnable(job, blocked)
            return
        if job.stop_requested:  # terminated while it waited
            job.finish(None, success=False)
            return
        if disruption is not None and disruption.attempt_duration_seconds:
            job.limit_attempt(disruption.attempt_duration_seconds)
        job.start()
        exit_code = self._run_process(job, disruption)
        if job.reason is None:
            job.reason = ESSENTIAL_CONTAINER_EXITED
        job.finish(exit_code, success=exit_code == 0 and not job.stop_requested)

    def _disruption_for(self, job: BatchJob) -> Disruption | None:
        for hook in list(self.disruptions):
            disruption = hook(job)
            if disruption is not None:
                return disruption
        return None

    def _blocked_reason(self, job: BatchJob, disruption: Disruption | None) -> str | None:
        """Why Batch would keep this job RUNNABLE, in its words; None if it can start."""
        if disruption is not None and disruption.blocked_reason:
            return disruption.blocked_reason
        if job.requested_vcpus() > self.max_vcpus:
            return COMPUTE_ENVIRONMENT_MAX_RESOURCE_WAIT
        return None

    def _wait_runnable(self, job: BatchJob, blocked: str) -> None:
        """RUNNABLE until a TerminateJob, or the queue's time limit action if it covers the reason."""
        job.reason = blocked  # Batch shows why a job waits in its statusReason
        code = blocked.split(" - ", 1)[0]
        waited_since = time.monotonic()
        while not job.stop_requested:
            limit = self.runnable_timeout_seconds
            if limit and code == self.stuck_reason and time.monotonic() - waited_since > limit:
                job.reason = f"Canceled by JobStateTimeLimit action due to reason: {code}"
                break
            time.sleep(POLL_SECONDS)
        job.finish(None, success=False)

    def _run_process(self, job: BatchJob, disruption: Disruption | None) -> int | None:
        """The job's command as a process group; its exit code as Batch reports it (None: the host went away)."""
        command = _local_command(job.command())
        # Nothing of the backend's own identity reaches the job: no keys, no profile, no credentials URI.
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        role = job.job_role_arn()
        environment = {
            **inherited,
            **agent_environment(self.region),
            **job.environment(),
            "AWS_ENDPOINT_URL": self.endpoint_url,
            # The job role, from the credentials endpoint as the container gets it; nothing when the
            # definition names no role (on AWS the job would then have no AWS access of its own).
            **(self.credentials.open_for(job.job_id, role) if role and self.credentials else {}),
            "AWS_BATCH_JOB_ID": job.job_id,
            "PYTHONUNBUFFERED": "1",
        }
        # The container's / (removed after the job, however it ended), its /tmp and its clock's zone.
        scratch = Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX))
        (scratch / "tmp").mkdir()
        environment |= {ROOT_VAR: str(scratch), "TMPDIR": str(scratch / "tmp"), "TZ": "UTC"}
        try:
            return self._watch_process(job, command, environment, disruption)
        finally:
            if self.credentials is not None:
                self.credentials.close_for(job.job_id)
            shutil.rmtree(scratch, ignore_errors=True)

    def _watch_process(
        self, job: BatchJob, command: list[str], environment: dict[str, str], disruption: Disruption | None
    ) -> int | None:
        shipper = LogShipper(job)
        process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=environment,
            start_new_session=True,  # its own process group: a terminate kills snakemake and every rule's command
            text=True,
            errors="replace",
        )
        with self._lock:
            self._process_groups[job.job_id] = process.pid
        started = time.monotonic()
        duration = job.attempt_duration()
        deadline = started + duration if duration else None
        kill_after = disruption.kill_after_seconds if disruption is not None else None
        kill_at = started + kill_after if kill_after is not None else None
        inflicted: list[Disruption] = []

        def watch() -> None:
            while process.poll() is None:
                now = time.monotonic()
                if job.stop_requested:
                    pass  # TerminateJob: its reason is set already
                elif deadline and now > deadline:
                    job.reason = ATTEMPT_TIMEOUT
                elif disruption is not None and kill_at is not None and now >= kill_at:
                    job.reason = disruption.status_reason or None
                    job.container_reason = disruption.container_reason
                    inflicted.append(disruption)
                else:
                    time.sleep(POLL_SECONDS)
                    continue
                _kill_group(process.pid)
                return

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        assert process.stdout is not None
        for line in process.stdout:
            shipper.add(line)
        returncode = process.wait()
        watcher.join()
        shipper.close()
        if inflicted:
            return inflicted[0].exit_code
        return SIGKILL_EXIT if returncode < 0 else returncode


def agent_environment(region: str) -> dict[str, str]:
    """What the ECS agent puts into every container whose job does not set it (Fargate always did, the
    EC2 agent since 2026): the region, so the image's `aws s3 cp` needs none of its own."""
    return {"AWS_REGION": region, "AWS_DEFAULT_REGION": region}


def _kill_group(group: int) -> None:
    try:
        os.killpg(group, signal.SIGKILL)
    except ProcessLookupError:
        pass  # it has ended already


def _local_command(command: list[str]) -> list[str]:
    """The image's entrypoint becomes ours; the rest of the command is run as the job gave it."""
    if command and command[0] == ENTRYPOINT:
        return [sys.executable, "-m", "nsclient.local.entrypoint", *command[1:]]
    return command


class LogShipper:
    """Batches a job's output lines into CloudWatch Logs, as the awslogs driver would: at most
    1000 lines or 0.2 s late, also when the job goes quiet after a line (a long-running step)."""

    INTERVAL = 0.2

    def __init__(self, job: BatchJob):
        self._job = job
        self._pending: list[dict[str, Any]] = []
        self._lock = threading.Lock()  # one flush at a time keeps the lines in order
        self._closed = threading.Event()
        self._flusher = threading.Thread(target=self._flush_periodically, daemon=True)
        self._flusher.start()

    def add(self, line: str) -> None:
        with self._lock:
            self._pending.append({"timestamp": int(time.time() * 1000), "message": line.rstrip("\n")})
            full = len(self._pending) >= 1000
        if full:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            if self._pending:
                self._job.put_log_events(self._pending)
                self._pending = []

    def close(self) -> None:
        self._closed.set()
        self._flusher.join()
        self.flush()

    def _flush_periodically(self) -> None:
        while not self._closed.wait(self.INTERVAL):
            self.flush()
