"""Classifying a run's end from what Batch, the log and the execution say, and deciding what is retried.

The job descriptions in tests/events/batch/ are shaped as DescribeJobs (camelCase) and as the Cause of
a failed batch:submitJob.sync task (the job as a PascalCase JSON string). The same faults run end to
end, through the state machine, in tests/pipeline/test_faults.py.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from nsclient_common.describedjob import JobFacts, facts_from_description, facts_from_state, latest_of
from nsclient_common.execution import RunState
from nsclient_common.failure import ADVICE, CANCEL_REASON, STUCK_RUNNABLE_REASON, JobOutcome, classify
from nsclient_common.finish import finalize
from nsclient_common.logarchive import LogSummary
from nsclient_common.notice import compose_notice
from nsclient_common.record import FailureClass, RunRecord, RunStatus
from nsclient_common.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "tests" / "events"
SPOT = "Host EC2 (instance i-0a1b2c3d4e5f67890) terminated."
EXITED = "Essential container in task exited"


def event(name: str) -> Any:
    return json.loads((EVENTS / name).read_text())


@pytest.mark.parametrize(
    ("outcome", "expected"),
    [
        (JobOutcome(job_status="SUCCEEDED", exit_code=0, status_reason=EXITED, started=True), None),
        (JobOutcome(job_status="FAILED", exit_code=1, status_reason=EXITED, started=True), FailureClass.EXIT_CODE),
        (
            JobOutcome(job_status="FAILED", exit_code=137, status_reason=EXITED, started=True),
            FailureClass.OUT_OF_MEMORY,
        ),
        (
            JobOutcome(
                job_status="FAILED",
                exit_code=137,
                status_reason=EXITED,
                container_reason="OutOfMemoryError: Container killed due to memory usage",
                started=True,
            ),
            FailureClass.OUT_OF_MEMORY,
        ),
        # A build that says it ran out of memory and exits 1 (snakemake reports the rule's failure)
        (
            JobOutcome(job_status="FAILED", exit_code=1, memory_error_in_log=True, started=True),
            FailureClass.OUT_OF_MEMORY,
        ),
        (JobOutcome(job_status="FAILED", status_reason=SPOT, started=True), FailureClass.SPOT_RECLAIMED),
        # Batch kills a timed-out container: 137, but the reason says why
        (
            JobOutcome(
                job_status="FAILED",
                exit_code=137,
                status_reason="Job attempt duration exceeded timeout",
                started=True,
            ),
            FailureClass.TIMEOUT,
        ),
        (
            JobOutcome(
                job_status="FAILED",
                status_reason="Canceled by JobStateTimeLimit action due to reason: "
                "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE",
            ),
            FailureClass.STUCK_RUNNABLE,
        ),
        (
            JobOutcome(
                job_status="FAILED",
                status_reason="Canceled by JobStateTimeLimit action due to reason: "
                "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY",
            ),
            FailureClass.STUCK_RUNNABLE,
        ),
        (
            JobOutcome(
                job_status="FAILED",
                status_reason="Canceled by JobStateTimeLimit action due to reason: "
                "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT",
            ),
            FailureClass.RESOURCES_TOO_LARGE,
        ),
        # ReconcileRun's guard, when the execution timed out with the job still waiting
        (
            JobOutcome(job_status="FAILED", status_reason=f"{STUCK_RUNNABLE_REASON}: CAPACITY:INSUFFICIENT_INSTANCE"),
            FailureClass.STUCK_RUNNABLE,
        ),
        (
            JobOutcome(
                job_status="FAILED",
                status_reason=f"{STUCK_RUNNABLE_REASON}: MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT - too large",
                timed_out=True,
            ),
            FailureClass.RESOURCES_TOO_LARGE,
        ),
        # ...and with the job running: nsclient's own SIGKILL is no OOM
        (
            JobOutcome(
                job_status="FAILED",
                exit_code=137,
                status_reason="nsclient: execution TIMED_OUT",
                started=True,
                timed_out=True,
            ),
            FailureClass.TIMEOUT,
        ),
        (
            JobOutcome(job_status="FAILED", exit_code=137, status_reason=CANCEL_REASON, started=True),
            FailureClass.CANCELLED,
        ),
        (JobOutcome(job_status="SUCCEEDED", exit_code=0, cancelled=True), FailureClass.CANCELLED),
        (JobOutcome(error="PrepareRun failed: KeyError: 'x'"), FailureClass.INTERNAL),
        (JobOutcome(job_status="FAILED", status_reason="nsclient: execution FAILED"), FailureClass.INTERNAL),
    ],
)
def test_classify(outcome: JobOutcome, expected: FailureClass | None) -> None:
    verdict = classify(outcome)
    assert verdict.failure_class == expected
    expected_status = {None: RunStatus.SUCCEEDED, FailureClass.CANCELLED: RunStatus.CANCELLED}.get(
        expected, RunStatus.FAILED
    )
    assert verdict.status == expected_status
    assert verdict.reason.endswith(".")


def test_a_cancel_reason_says_why_the_run_was_cancelled() -> None:
    plain = classify(JobOutcome(job_status="FAILED", exit_code=137, status_reason=CANCEL_REASON, started=True))
    said = classify(
        JobOutcome(
            job_status="FAILED",
            exit_code=137,
            status_reason=f"{CANCEL_REASON}: the local backend was stopped",
            started=True,
        )
    )
    assert (plain.status, plain.reason) == (RunStatus.CANCELLED, "The run was cancelled.")
    assert (said.status, said.reason) == (RunStatus.CANCELLED, "The run was cancelled: the local backend was stopped.")


def test_the_failed_rule_and_exit_code_are_in_the_sentence() -> None:
    verdict = classify(JobOutcome(job_status="FAILED", exit_code=1, failed_rule="align", started=True))
    assert verdict.reason == "The build failed in rule align, and snakemake stopped with exit code 1."


def test_the_rules_own_exit_code_comes_before_snakemakes() -> None:
    outcome = JobOutcome(job_status="FAILED", exit_code=1, failed_rule="align", rule_exit_code=3, started=True)
    assert (
        classify(outcome).reason
        == "The build failed in rule align: its command exited with status 3, so snakemake stopped with exit code 1."
    )


def test_every_failure_class_says_what_to_do() -> None:
    assert set(ADVICE) == set(FailureClass)
    for advice in ADVICE.values():
        assert advice.endswith(".") and len(advice) > 40


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("batch/job_spot_reclaimed.json", FailureClass.SPOT_RECLAIMED),
        ("batch/job_out_of_memory.json", FailureClass.OUT_OF_MEMORY),
        ("batch/job_cancelled_by_time_limit_action.json", FailureClass.STUCK_RUNNABLE),
    ],
)
def test_described_jobs_are_classified(name: str, expected: FailureClass) -> None:
    facts = facts_from_description(event(name))
    record = RunRecord(run_id="zika-0123456789", status=RunStatus.SUBMITTED, submitted_at="2024-11-25T07:00:00Z")
    final = finalize(record, facts, None, bucket="builds")
    assert (final.status, final.failure_class) == (RunStatus.FAILED, expected)
    assert final.job_queue == "nextstrain-job-queue"
    notice = compose_notice(final, [])
    # The subject names the build (a record without an upload has only its run id), its outcome and how long it took
    assert notice.subject.startswith(f"[nsclient] zika-0123456789 FAILED ({expected.value}) in ")
    assert ADVICE[expected] in notice.body


def test_a_failed_sync_task_cause_is_the_job() -> None:
    facts = facts_from_state(None, event("batch/sfn_job_failed_exit_code.json"))
    assert (facts.status, facts.exit_code, facts.status_reason) == ("FAILED", 1, EXITED)
    assert facts.log_stream == "nextstrain-job/default/51c2"
    assert facts.attempts == 1 and facts.started_at == 1732518010000
    log = LogSummary(log_key="runs/zika-0123456789/logs/build.log", failed_rule="align")
    record = RunRecord(run_id="zika-0123456789", status=RunStatus.SUBMITTED, submitted_at="2024-11-25T07:00:00Z")
    final = finalize(record, facts, log, bucket="builds")
    assert (final.failure_class, final.failed_rule, final.exit_code) == (FailureClass.EXIT_CODE, "align", 1)
    assert final.log_url == "s3://builds/runs/zika-0123456789/logs/build.log"


def test_a_submission_error_is_not_a_job() -> None:
    facts = facts_from_state(None, {"Error": "Batch.ClientException", "Cause": "Error executing request ..."})
    assert facts.job_id is None and facts.error == "Batch.ClientException"
    assert classify(JobOutcome(error=f"{facts.error}: {facts.error_cause}")).failure_class == FailureClass.INTERNAL


def test_after_a_retry_the_last_job_counts() -> None:
    spot = event("batch/job_spot_reclaimed.json")
    retried = {**event("batch/job_out_of_memory.json"), "jobQueue": "arn:aws:batch:::job-queue/on-demand"}
    results, errors = (
        {"RetryOnDemandJob": None},
        {
            "SubmitBuildJob": {"Error": "States.TaskFailed", "Cause": json.dumps(spot)},
            "RetryOnDemandJob": {"Error": "States.TaskFailed", "Cause": json.dumps(retried)},
        },
    )
    state = RunState.model_validate({"run_id": "zika-0123456789", "results": results, "errors": errors})
    facts = latest_of(state.job_history())
    assert (facts.job_queue, facts.exit_code, facts.attempts) == ("on-demand", 137, 2)
    assert latest_of(RunState(run_id="zika-0123456789").job_history()) == JobFacts()


# --- the on-demand retry decision (CollectLogs) ------------------------------------------------------------


def collect_logs_app() -> ModuleType:
    spec = importlib.util.spec_from_file_location("collect_logs_app", ROOT / "functions" / "collect_logs" / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("history", "on_demand", "expected"),
    [
        ([JobFacts(status="FAILED", status_reason=SPOT, job_queue="spot")], "on-demand", "on-demand"),
        ([JobFacts(status="FAILED", status_reason=SPOT, job_queue="spot")], "", None),  # none configured
        ([JobFacts(status="FAILED", status_reason=EXITED, exit_code=137, job_queue="spot")], "on-demand", None),
        ([JobFacts(status="FAILED", status_reason="Job attempt duration exceeded timeout")], "on-demand", None),
        ([JobFacts(status="SUCCEEDED", status_reason=EXITED, exit_code=0)], "on-demand", None),
        ([JobFacts(status="FAILED", status_reason=SPOT, job_queue="on-demand")], "on-demand", None),  # on it already
        ([JobFacts(status_reason=SPOT), JobFacts(status="FAILED", status_reason=SPOT)], "on-demand", None),  # once
    ],
)
def test_only_a_spot_reclaim_is_retried_on_demand_and_once(
    history: list[JobFacts], on_demand: str, expected: str | None
) -> None:
    settings = Settings(bucket="builds", on_demand_job_queue=on_demand)
    assert collect_logs_app().on_demand_retry_queue(history, settings) == expected


def test_the_state_machine_retries_what_collect_logs_names_once() -> None:
    import yaml

    machine = yaml.safe_load((ROOT / "statemachine" / "run_build.asl.yaml").read_text())
    states = machine["States"]
    for name, state in states.items():
        targets = [state.get("Next"), state.get("Default")]
        targets += [c["Next"] for c in state.get("Choices", []) + state.get("Catch", [])]
        assert all(t in states for t in targets if t), f"{name} goes to a state that does not exist"
        if state["Type"] == "Task":
            assert state["Catch"][0]["ErrorEquals"] == ["States.ALL"], f"{name} must catch everything"
    assert states["CollectLogs"]["Next"] == "IsSpotReclaimed"
    (choice,) = states["IsSpotReclaimed"]["Choices"]
    assert choice["Next"] == "RetryOnDemandJob"
    conditions = {c["Variable"]: c for c in choice["And"]}
    assert conditions["$.results.CollectLogs.on_demand_job_queue"]["IsString"] is True
    assert conditions["$.results.RetryOnDemandJob"]["IsPresent"] is False
    assert conditions["$.errors.RetryOnDemandJob"]["IsPresent"] is False
    retry = states["RetryOnDemandJob"]
    assert retry["Parameters"]["JobQueue.$"] == "$.results.CollectLogs.on_demand_job_queue"
    assert retry["Next"] == retry["Catch"][0]["Next"] == "CollectLogs"
    for name in ("SubmitBuildJob", "RetryOnDemandJob"):  # throttling only, with backoff and jitter
        (policy,) = states[name]["Retry"]
        assert "Batch.TooManyRequestsException" in policy["ErrorEquals"] and "States.ALL" not in policy["ErrorEquals"]
        assert policy["BackoffRate"] > 1 and policy["JitterStrategy"] == "FULL"
