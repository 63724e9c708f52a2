"""What happened to a run, in one word and one sentence a person can act on.

The reasons below are the texts AWS Batch puts in a job's statusReason (and container.reason),
so the classification works on what Batch reports, whichever path (the state machine or the
ReconcileRun backstop) finishes the run.
"""

from __future__ import annotations

from pydantic import BaseModel

from nsclient_common.record import FailureClass, RunStatus

# Reasons Batch gives in a job's statusReason / container.reason.
SPOT_REASON_PREFIX = "Host EC2"  # "Host EC2 (instance i-0123456789abcdef0) terminated."
TIMEOUT_REASON = "Job attempt duration exceeded timeout"
OOM_REASON = "OutOfMemoryError"  # container.reason "OutOfMemoryError: Container killed due to memory usage"
# Why a job waits in RUNNABLE, as Batch reports it (and the only reasons a queue's
# jobStateTimeLimitActions accept); a job cancelled by such an action then reads
# "Canceled by JobStateTimeLimit action due to reason: <reason>".
RESOURCE_MISCONFIGURATION = "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT"  # no instance type is that large
COMPUTE_ENVIRONMENT_MAX_RESOURCE = "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE"  # over the CE's maxvCpus
INSUFFICIENT_CAPACITY = "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY"
TIME_LIMIT_ACTION = "by JobStateTimeLimit action"
# The reasons nsclient itself gives when it ends a job.
NSCLIENT_REASON_PREFIX = "nsclient:"
CANCEL_REASON = "Cancelled by nsclient"
# ReconcileRun's, for a job that had not started when the execution timed out (the guard for
# queues without a jobStateTimeLimitActions entry for the reason it waited).
STUCK_RUNNABLE_REASON = "nsclient: stuck RUNNABLE"
SIGKILL_EXIT = 137

ADVICE: dict[FailureClass, str] = {
    FailureClass.EXIT_CODE: (
        "The build's command failed. Read the log (its last lines are below; `nsclient logs` shows all of it), "
        "fix the build and push it again. `nsclient pull` fetches what it made before it failed."
    ),
    FailureClass.OUT_OF_MEMORY: (
        "The job ran out of memory. Push again with more memory (for example --memory twice what you gave)."
    ),
    FailureClass.SPOT_RECLAIMED: (
        "AWS reclaimed the Spot instance the job ran on. Nothing is wrong with the build: push it again. "
        "To have such runs retried automatically, deploy with an on-demand queue (parameter OnDemandJobQueue)."
    ),
    FailureClass.TIMEOUT: (
        "The job ran past its time limit. Push again with more cpus, or raise the limit "
        "(parameter JobTimeoutSeconds, and ExecutionTimeoutSeconds above it)."
    ),
    FailureClass.STUCK_RUNNABLE: (
        "The job never started: the compute environment could not give it what it asked for, or AWS had no "
        "capacity for it. Ask for fewer cpus or less memory (or raise the compute environment's MaxvCpus), "
        "or push again later."
    ),
    FailureClass.RESOURCES_TOO_LARGE: (
        "No instance type in the compute environment is large enough for the job's request. "
        "Ask for fewer cpus or less memory, or add larger instance types to the compute environment."
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
    container_reason: str = ""
    started: bool = False
    memory_error_in_log: bool = False
    failed_rule: str | None = None
    rule_exit_code: int | None = None  # the failed rule's own status, from the log (snakemake then exits 1)
    cancelled: bool = False
    timed_out: bool = False  # the execution ran past its TimeoutSeconds
    error: str | None = None  # a Step Functions error name when our own step failed


class Verdict(BaseModel):
    status: RunStatus
    failure_class: FailureClass | None
    reason: str


def is_spot_reclaimed(status_reason: str) -> bool:
    """Batch's reason for a job whose host went away (a Spot reclaim, or a failed instance)."""
    return status_reason.startswith(SPOT_REASON_PREFIX) and "terminated" in status_reason


def classify(outcome: JobOutcome) -> Verdict:
    reason = outcome.status_reason
    reasons = f"{reason} {outcome.container_reason}"
    if outcome.job_status == "SUCCEEDED" and not outcome.cancelled:
        return Verdict(status=RunStatus.SUCCEEDED, failure_class=None, reason="The build succeeded.")
    if outcome.cancelled or reason.startswith(CANCEL_REASON):
        # Whoever ended the job may say why after the reason ("Cancelled by nsclient: the local backend was stopped").
        why = reason.removeprefix(CANCEL_REASON).strip(" :.") if reason.startswith(CANCEL_REASON) else ""
        sentence = f"The run was cancelled: {why}." if why else "The run was cancelled."
        return _failed(FailureClass.CANCELLED, sentence, RunStatus.CANCELLED)
    if RESOURCE_MISCONFIGURATION in reasons:
        return _failed(
            FailureClass.RESOURCES_TOO_LARGE, f"Batch could not place the job on any instance type ({reason})."
        )
    if (
        reason.startswith(STUCK_RUNNABLE_REASON)
        or TIME_LIMIT_ACTION in reason
        or (not outcome.started and (COMPUTE_ENVIRONMENT_MAX_RESOURCE in reason or INSUFFICIENT_CAPACITY in reason))
    ):
        return _failed(FailureClass.STUCK_RUNNABLE, f"The job waited too long to start ({reason}).")
    if is_spot_reclaimed(reason):
        return _failed(FailureClass.SPOT_RECLAIMED, f"The instance running the job went away ({reason}).")
    if TIMEOUT_REASON in reason:
        return _failed(FailureClass.TIMEOUT, "The job ran past its time limit (JobTimeoutSeconds) and was stopped.")
    if outcome.timed_out:
        return _failed(
            FailureClass.TIMEOUT, "The run went past the state machine's time limit (ExecutionTimeoutSeconds)."
        )
    # A SIGKILL that nsclient sent (ReconcileRun stopping a job) is not the kernel's OOM killer.
    killed = outcome.exit_code == SIGKILL_EXIT and not reason.startswith(NSCLIENT_REASON_PREFIX)
    if OOM_REASON in reasons or killed or (outcome.exit_code and outcome.memory_error_in_log):
        return _failed(FailureClass.OUT_OF_MEMORY, f"The job ran out of memory (exit code {outcome.exit_code}).")
    if outcome.exit_code:
        return _failed(FailureClass.EXIT_CODE, f"The build failed{_where(outcome)}.")
    detail = outcome.error or reason or "no job outcome was recorded"
    return _failed(FailureClass.INTERNAL, f"nsclient could not finish the run ({detail}).")


def _where(outcome: JobOutcome) -> str:
    """Which rule failed and with which status: the rule's own, then snakemake's (which exits 1 whatever the
    rule's status was)."""
    if not outcome.failed_rule:
        return f" (exit code {outcome.exit_code})"
    if outcome.rule_exit_code is None:
        return f" in rule {outcome.failed_rule}, and snakemake stopped with exit code {outcome.exit_code}"
    return (
        f" in rule {outcome.failed_rule}: its command exited with status {outcome.rule_exit_code},"
        f" so snakemake stopped with exit code {outcome.exit_code}"
    )


def _failed(failure_class: FailureClass, sentence: str, status: RunStatus = RunStatus.FAILED) -> Verdict:
    return Verdict(status=status, failure_class=failure_class, reason=sentence)
