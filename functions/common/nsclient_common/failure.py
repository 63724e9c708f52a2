"""What happened to a run, in one word and one sentence a person can act on."""

from __future__ import annotations

from pydantic import BaseModel

from nsclient_common.record import FailureClass, RunStatus

# Reasons Batch gives in a job's statusReason.
SPOT_REASON_PREFIX = "Host EC2"
TIMEOUT_REASON = "Job attempt duration exceeded timeout"
RESOURCE_MISCONFIGURATION = "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT"
OOM_REASON = "OutOfMemoryError"
# The reasons nsclient itself gives when it ends a job; also set on the job queue's
# jobStateTimeLimitActions in template.yaml.
CANCEL_REASON = "Cancelled by nsclient"
STUCK_RUNNABLE_REASON = "nsclient: stuck RUNNABLE"
SIGKILL_EXIT = 137

ADVICE: dict[FailureClass, str] = {
    FailureClass.EXIT_CODE: (
        "The build's command failed. Read the log (`nsclient logs RUN`), fix the build and push it again."
    ),
    FailureClass.OUT_OF_MEMORY: (
        "The job ran out of memory. Push again with more memory (for example --memory twice what you gave)."
    ),
    FailureClass.SPOT_RECLAIMED: (
        "AWS reclaimed the spot instance the job ran on. Nothing is wrong with the build: push it again, "
        "or configure an on-demand queue to retry on."
    ),
    FailureClass.TIMEOUT: "The job ran past its time limit. Push again with more cpus, or raise JobTimeoutSeconds.",
    FailureClass.STUCK_RUNNABLE: (
        "The job never started: no instance in the compute environment can give it what it asked for. "
        "Ask for fewer cpus or less memory, or raise the compute environment's MaxvCpus or instance types."
    ),
    FailureClass.RESOURCES_TOO_LARGE: (
        "Batch refused the job's resource request: no instance type in the compute environment is that large. "
        "Ask for fewer cpus or less memory."
    ),
    FailureClass.CANCELLED: "The run was cancelled before it finished; nothing more will happen.",
    FailureClass.REJECTED: (
        "The upload was not run. Fix what the reason says and push again; the upload was left in place."
    ),
    FailureClass.INTERNAL: "nsclient itself failed. This is a bug: please report it with the run id.",
}


class JobOutcome(BaseModel):
    """The facts a classification rests on, gathered from Batch, the log and the execution."""

    job_status: str | None = None  # SUCCEEDED | FAILED | None (no job, or unknown)
    exit_code: int | None = None
    status_reason: str = ""
    started: bool = False
    memory_error_in_log: bool = False
    failed_rule: str | None = None
    cancelled: bool = False
    error: str | None = None  # a Step Functions error name when our own step failed


class Verdict(BaseModel):
    status: RunStatus
    failure_class: FailureClass | None
    reason: str


def classify(outcome: JobOutcome) -> Verdict:
    reason = outcome.status_reason
    if outcome.job_status == "SUCCEEDED" and not outcome.cancelled:
        return Verdict(status=RunStatus.SUCCEEDED, failure_class=None, reason="The build succeeded.")
    if outcome.cancelled or reason.startswith(CANCEL_REASON) or reason == "stopped by user":
        return _failed(FailureClass.CANCELLED, "The run was cancelled.", RunStatus.CANCELLED)
    if reason.startswith(STUCK_RUNNABLE_REASON) or (not outcome.started and "RUNNABLE" in reason):
        return _failed(FailureClass.STUCK_RUNNABLE, f"The job waited too long to start ({reason}).")
    if RESOURCE_MISCONFIGURATION in reason:
        return _failed(FailureClass.RESOURCES_TOO_LARGE, f"Batch could not place the job ({reason}).")
    if reason.startswith(SPOT_REASON_PREFIX) and "terminated" in reason:
        return _failed(FailureClass.SPOT_RECLAIMED, f"The instance running the job went away ({reason}).")
    if TIMEOUT_REASON in reason:
        return _failed(FailureClass.TIMEOUT, "The job ran past its time limit and was stopped.")
    if OOM_REASON in reason or outcome.exit_code == SIGKILL_EXIT or (outcome.exit_code and outcome.memory_error_in_log):
        return _failed(FailureClass.OUT_OF_MEMORY, f"The job ran out of memory (exit code {outcome.exit_code}).")
    if outcome.exit_code:
        where = f" in rule {outcome.failed_rule}" if outcome.failed_rule else ""
        return _failed(FailureClass.EXIT_CODE, f"The build failed{where} (exit code {outcome.exit_code}).")
    detail = outcome.error or reason or "no job outcome was recorded"
    return _failed(FailureClass.INTERNAL, f"nsclient could not finish the run ({detail}).")


def _failed(failure_class: FailureClass, sentence: str, status: RunStatus = RunStatus.FAILED) -> Verdict:
    return Verdict(status=status, failure_class=failure_class, reason=sentence)
