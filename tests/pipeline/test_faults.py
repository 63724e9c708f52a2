"""Every run ends with a true record and exactly one notice, whatever fails.

Each test runs the real state machine (statemachine/run_build.asl.yaml, executed by moto) and the
real handlers on the local backend, with one fault injected where AWS would cause it: a Batch job
the local runtime kills as the OOM killer or a reclaimed Spot host would (tests/faults.py),
a job too large to place, moto's Batch or S3 answering with throttling errors, a handler that
raises, a StopExecution. Then it checks what the user sees: run.json's status and failure_class,
the Batch job's own end, the archived log, and that one notice (no more) went out, also once the
ReconcileRun backstop has had its say.

The runs that need nothing from the test while they run are started together at the start of the
module (`launched`), with an on-demand queue configured, so that their waits overlap; each test then
checks its own run. The tests that act during their run (redelivering, cancelling) run meanwhile; those
that change the whole stack (throttling its clients, no on-demand queue) run last, alone.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest

from nsclient.local.lambda_runtime import LocalFunction
from nsclient.local.runtime import LocalRuntime
from nsclient.local.stack import STACK_NAME
from nsclient_common import aws
from nsclient_common.display import status_label
from nsclient_common.failure import ADVICE, CANCEL_REASON, TIMEOUT_REASON
from nsclient_common.layout import log_key, record_key, report_json_key
from nsclient_common.record import FailureClass, RunRecord, parse_iso
from nsclient_common.runid import run_id_for_upload
from tests.faults import JobFault, JobFaults
from tests.support import (
    ON_DEMAND_QUEUE,
    SNAKEFILE_FAILS,
    SNAKEFILE_OK,
    Backend,
    notice_subject,
    wait_until,
    zip_bytes,
)

EVENTS = Path(__file__).resolve().parents[1] / "events"

SNAKEFILE_SLOW = """\
rule all:
    input: "results/out.txt"

rule slow:
    output: "results/out.txt"
    shell: "echo slow build started && sleep 2 && echo slow build going && sleep 28 && echo done > {output}"
"""


# --- helpers ---------------------------------------------------------------------------------------------


def local_function(runtime: LocalRuntime, logical_id: str) -> LocalFunction:
    return runtime.lambdas.functions[f"{STACK_NAME}-{logical_id}"]


def event_run_id(event: dict[str, Any]) -> str:
    """The run a handler's event is about, whichever handler it is."""
    detail = event.get("detail") or {}
    return str(event.get("run_id") or (event.get("notice") or {}).get("run_id") or detail.get("name") or "")


class InjectedCrash(Exception):
    """A bug in one of our handlers, as the test makes it happen."""


@dataclass
class HandlerSpy:
    """Records every invocation of a handler (event, result or error), and lets a test wait for one."""

    calls: list[tuple[dict[str, Any], Any]] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)

    def wrap(self, handler: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
        def spy(event: Any, context: Any) -> Any:
            try:
                result = handler(event, context)
            except Exception as error:
                self._add(event, error)
                raise
            self._add(event, result)
            return result

        return spy

    def _add(self, event: dict[str, Any], outcome: Any) -> None:
        with self.changed:
            self.calls.append((event, outcome))
            self.changed.notify_all()

    def for_run(self, run_id: str) -> list[Any]:
        return [outcome for event, outcome in self.calls if event_run_id(event) == run_id]

    def wait_for(self, run_id: str, timeout: float = 30) -> list[Any]:
        with self.changed:
            if not self.changed.wait_for(lambda: self.for_run(run_id), timeout):
                raise TimeoutError(f"the handler never ran for {run_id}")
        return self.for_run(run_id)


@pytest.fixture(scope="module")
def backstop(local_runtime: LocalRuntime) -> Iterator[HandlerSpy]:
    """A spy on ReconcileRun, so that a test knows when the backstop has handled its run."""
    spy = HandlerSpy()
    function = local_function(local_runtime, "ReconcileRunFunction")
    wrapped = spy.wrap(function.load())
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(function, "load", lambda: wrapped)
        yield spy


def crash(
    monkeypatch: pytest.MonkeyPatch,
    runtime: LocalRuntime,
    logical_id: str,
    run_prefix: str,
    when: Callable[[Any], bool],
) -> None:
    """Make a handler raise for the runs whose id starts with run_prefix (and `when` the event says so)."""
    function = local_function(runtime, logical_id)
    handler = function.load()

    def crashing(event: Any, context: Any) -> Any:
        if event_run_id(event).startswith(run_prefix) and when(event):
            raise InjectedCrash(f"injected crash in {logical_id}")
        return handler(event, context)

    monkeypatch.setattr(function, "load", lambda: crashing)


def inject(monkeypatch: pytest.MonkeyPatch, job_faults: JobFaults, *faults: JobFault) -> None:
    # Added to those in force, not in their place: the module's launched runs may not have started their jobs
    monkeypatch.setattr(job_faults, "faults", [*job_faults.faults, *faults])


@dataclass
class Outcome:
    """What the user sees of a finished run."""

    run_id: str
    record: RunRecord
    execution: dict[str, Any]
    subject: str
    body: str
    jobs: list[dict[str, Any]]


def outcome(backend: Backend, backstop: HandlerSpy, run_id: str, *, queues: tuple[str, ...] = ()) -> Outcome:
    """Wait for the run's end (and the backstop's, for an execution that did not succeed); check that
    run.json is final and exactly one notice was sent, by the topic and to the outbox."""
    # Generous limits: a dozen runs share the machine's cpus
    record = backend.wait_for_record(run_id, timeout=300)
    execution = backend.wait_for_execution(run_id, timeout=60)
    if execution["status"] != "SUCCEEDED":
        backstop.wait_for(run_id, timeout=60)
    notices = backend.topic_messages(run_id)
    assert len(notices) == 1, f"{len(notices)} notices for {run_id}: {[subject for subject, _ in notices]}"
    marker = backend.notice(run_id)
    assert marker["state"] == "sent"
    assert (Path(backend.info.outbox) / f"{run_id}.eml").is_file()
    subject, body = notices[0]
    assert marker["subject"] == subject
    assert record.status.is_final and record.finished_at
    if record.failure_class is not None:
        assert status_label(record.status, record.failure_class) in subject
        assert ADVICE[record.failure_class] in body, "the notice says what to do"
    return Outcome(run_id, record, execution, subject, body, jobs(backend, run_id, *queues))


def jobs(backend: Backend, run_id: str, *queues: str) -> list[dict[str, Any]]:
    """Every Batch job of the run on the stack's queue (and the given ones), oldest first."""
    batch = backend.client("batch")
    ids = [
        summary["jobId"]
        for queue in (backend.info.job_queue, *queues)
        for summary in batch.list_jobs(jobQueue=queue, filters=[{"name": "JOB_NAME", "values": [run_id]}])[
            "jobSummaryList"
        ]
    ]
    described: list[dict[str, Any]] = batch.describe_jobs(jobs=ids)["jobs"] if ids else []
    return sorted(described, key=lambda job: job["createdAt"])


def visited_states(backend: Backend, run_id: str) -> list[str]:
    history = backend.client("stepfunctions").get_execution_history(
        executionArn=backend.execution_arn(run_id), maxResults=1000
    )["events"]
    return [event["stateEnteredEventDetails"]["name"] for event in history if "stateEnteredEventDetails" in event]


def upload(backend: Backend, name: str, snakefile: str = SNAKEFILE_OK, metadata: dict[str, str] | None = None) -> str:
    return backend.upload(zip_bytes({"Snakefile": snakefile}), name=name, metadata=metadata)


SPOT_QUEUE = "nextstrain-job-queue"  # the stack's JobQueue (the template's default)


def configure_on_demand_queue(backend: Backend, runtime: LocalRuntime, patch: pytest.MonkeyPatch) -> str:
    """An on-demand queue, configured as the template's OnDemandJobQueue parameter configures it: in
    every function's ON_DEMAND_JOB_QUEUE."""
    batch = backend.client("batch")
    if not batch.describe_job_queues(jobQueues=[ON_DEMAND_QUEUE])["jobQueues"]:
        (queue,) = batch.describe_job_queues(jobQueues=[backend.info.job_queue])["jobQueues"]
        order = queue["computeEnvironmentOrder"]
        batch.create_job_queue(jobQueueName=ON_DEMAND_QUEUE, state="ENABLED", priority=1, computeEnvironmentOrder=order)
    for function in runtime.lambdas.functions.values():
        patch.setitem(function.environment, "ON_DEMAND_JOB_QUEUE", ON_DEMAND_QUEUE)
    return ON_DEMAND_QUEUE


@dataclass(frozen=True)
class Scenario:
    """One run and the faults injected into it (matched by its upload name, the run id's stem)."""

    name: str
    snakefile: str = SNAKEFILE_OK
    metadata: dict[str, str] = field(default_factory=dict)
    faults: tuple[JobFault, ...] = ()
    crashes: tuple[tuple[str, Callable[[Any], bool]], ...] = ()  # (function, when the event says so)
    body: bytes | None = None  # instead of a zip of the Snakefile


def not_safe_mode(event: Any) -> bool:
    return not event.get("safe_mode")


def always(event: Any) -> bool:
    return True


SCENARIOS = [
    Scenario("fault-exit-code", SNAKEFILE_FAILS),
    Scenario("fault-oom", faults=(JobFault.out_of_memory("fault-oom-"),)),
    # The Spot host goes away on the Spot queue only, then on both queues.
    Scenario("fault-spot-retry", faults=(JobFault.host_terminated("fault-spot-retry-", queue=SPOT_QUEUE),)),
    Scenario("fault-spot-twice", faults=(JobFault.host_terminated("fault-spot-twice-"),)),
    Scenario("fault-timeout", SNAKEFILE_SLOW, faults=(JobFault.attempt_timeout("fault-timeout-", 2),)),
    Scenario("fault-stuck", metadata={"cpus": "16"}),
    Scenario("fault-rejected", body=b"this is not a zip"),
    Scenario("fault-internal", crashes=(("PrepareRunFunction", always),)),
    Scenario(
        "fault-collect-crash",
        faults=(JobFault.out_of_memory("fault-collect-crash-"),),
        crashes=(("CollectLogsFunction", always),),
    ),
    Scenario(
        "fault-finalize-crash",
        faults=(JobFault.out_of_memory("fault-finalize-crash-"),),
        crashes=(("FinalizeRunFunction", not_safe_mode),),
    ),
    Scenario(
        "fault-wrapup-crash",
        faults=(JobFault.out_of_memory("fault-wrapup-crash-"),),
        crashes=(("FinalizeRunFunction", always),),
    ),
    Scenario(
        "fault-notify-crash",
        faults=(JobFault.out_of_memory("fault-notify-crash-"),),
        crashes=(("NotifyRunFunction", always),),
    ),
]


def launch(
    backend: Backend, runtime: LocalRuntime, job_faults: JobFaults, patch: pytest.MonkeyPatch, scenarios: list[Scenario]
) -> dict[str, str]:
    """Inject every scenario's faults, then upload them all at once; name -> run id."""
    # Make the handlers' clients first: a dozen handlers starting at once would each make their own (in
    # this process they share them; on AWS each Lambda instance makes its own, once)
    for service in ("s3", "batch", "logs", "sns", "stepfunctions"):
        aws.client(service)
    patch.setattr(job_faults, "faults", [*job_faults.faults, *(f for s in scenarios for f in s.faults)])
    for scenario in scenarios:
        for logical_id, when in scenario.crashes:
            crash(patch, runtime, logical_id, f"{scenario.name}-", when)
    return {
        scenario.name: backend.upload(
            scenario.body or zip_bytes({"Snakefile": scenario.snakefile}),
            name=scenario.name,
            metadata=scenario.metadata,
        )
        for scenario in scenarios
    }


@pytest.fixture(scope="module")
def launched(
    local_backend: Backend, local_runtime: LocalRuntime, job_faults: JobFaults, backstop: HandlerSpy
) -> Iterator[dict[str, str]]:
    """The SCENARIOS' runs, started together, with an on-demand queue configured."""
    with pytest.MonkeyPatch.context() as patch:
        configure_on_demand_queue(local_backend, local_runtime, patch)
        yield launch(local_backend, local_runtime, job_faults, patch, SCENARIOS)


# --- duplicate delivery ----------------------------------------------------------------------------------


def test_duplicate_deliveries_at_once_start_one_run(
    local_backend: Backend, backstop: HandlerSpy, launched: dict[str, str]
) -> None:
    # Given an upload, whose "Object Created" event EventBridge delivers again, three times at once
    s3 = local_backend.client("s3")
    key = "inbox/fault-duplicate.zip"
    body = zip_bytes({"Snakefile": SNAKEFILE_OK})
    put = s3.put_object(Bucket=local_backend.info.bucket, Key=key, Body=body)
    run_id = run_id_for_upload(key, put["VersionId"])
    event = json.loads((EVENTS / "start_run" / "object_created.json").read_text())
    event["detail"]["bucket"]["name"] = local_backend.info.bucket
    event["detail"]["object"].update({"key": key, "size": len(body), "version-id": put["VersionId"]})
    events = local_backend.client("events")
    start = threading.Barrier(3)

    def redeliver() -> None:
        start.wait()
        entry = {"Source": "aws.s3", "DetailType": "Object Created", "Detail": json.dumps(event["detail"])}
        events.put_events(Entries=[{**entry, "Resources": event["resources"]}])

    threads = [threading.Thread(target=redeliver) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # Then one execution, one Batch job and one notice
    seen = outcome(local_backend, backstop, run_id)
    assert seen.record.status == "SUCCEEDED"
    executions = local_backend.client("stepfunctions").list_executions(
        stateMachineArn=local_backend.info.state_machine_arn
    )["executions"]
    assert [e["name"] for e in executions].count(run_id) == 1
    assert len(seen.jobs) == 1

    # And a new upload to the same key (a new version) is a new run
    again = s3.put_object(Bucket=local_backend.info.bucket, Key=key, Body=b"not a zip this time")
    second = run_id_for_upload(key, again["VersionId"])
    assert second != run_id
    assert outcome(local_backend, backstop, second).record.status == "REJECTED"
    assert len(local_backend.topic_messages(run_id)) == 1


# --- cancel ----------------------------------------------------------------------------------------------


def test_cancel_terminates_the_job(local_backend: Backend, backstop: HandlerSpy, launched: dict[str, str]) -> None:
    # Given a 30 s build that has started
    run_id = upload(local_backend, "fault-cancel", SNAKEFILE_SLOW)
    logs = local_backend.client("logs")

    def build_started() -> bool:
        found = jobs(local_backend, run_id)
        if not found or found[0]["status"] != "RUNNING":
            return False
        (job,) = found
        stream = job["container"]["logStreamName"]
        events = logs.get_log_events(logGroupName="/aws/batch/job", logStreamName=stream, startFromHead=True)
        # Seconds into its rule (snakemake's log stamps whole seconds): the time it ran shows in the report.
        # The echo's own line, not snakemake's print of the rule's shell command, which names it at the start.
        return any(event["message"].strip() == "slow build going" for event in events["events"])

    wait_until(build_started, timeout=120, what="the build to have run a while")
    # When it is cancelled as `nsclient cancel` and the console do: StopExecution
    cancelled_at = time.time()
    local_backend.client("stepfunctions").stop_execution(
        executionArn=local_backend.execution_arn(run_id), error="Cancelled", cause=CANCEL_REASON
    )
    # Then the backstop terminates the job, archives its log and records the run cancelled
    seen = outcome(local_backend, backstop, run_id)
    assert seen.execution["status"] == "ABORTED"
    assert (seen.record.status, seen.record.failure_class) == ("CANCELLED", FailureClass.CANCELLED)
    (job,) = seen.jobs
    # Terminated while it ran (a job that had ended would keep Batch's own reason), before its rule finished
    assert (job["status"], job["statusReason"]) == ("FAILED", CANCEL_REASON)
    assert job["stoppedAt"] / 1000 < cancelled_at + 30
    assert "slow build started" in local_backend.archived_log(run_id)
    assert seen.record.log_url and notice_subject(run_id, "CANCELLED").fullmatch(seen.subject)
    # And the report counts the time the rule ran until it was stopped, though its log never saw it finish
    report = json.loads(
        local_backend.client("s3")
        .get_object(Bucket=local_backend.info.bucket, Key=local_backend.run_key(run_id, report_json_key))["Body"]
        .read()
    )
    (bar,) = report["jobs"]
    assert (bar["rule"], bar["finished"]) == ("slow", False)
    ran = (parse_iso(seen.record.finished_at or "") - parse_iso(seen.record.started_at or "")).total_seconds()
    assert 1 <= bar["seconds"] <= ran + 1
    assert report["rules"][0]["longest_seconds"] == bar["seconds"]


# Long enough to reach SubmitBuildJob on a busy machine; the run then waits for it to pass.
TOO_LARGE_EXECUTION_TIMEOUT = 15


# --- stuck RUNNABLE on a queue the stack cannot change ---------------------------------------------------


def test_stuck_on_a_queue_without_time_limit_ends_with_the_execution(
    local_backend: Backend,
    job_faults: JobFaults,
    backstop: HandlerSpy,
    launched: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a job no instance type can hold, on a queue with no time limit action for that reason,
    # and an execution limited to a few seconds (ExecutionTimeoutSeconds)
    inject(monkeypatch, job_faults, JobFault.too_large("fault-too-large-"))
    # None of them may start while the limit is lowered (their first step writes their record)
    wait_until(
        lambda: all(local_backend.record(run) for run in launched.values()), timeout=60, what="the launched runs"
    )
    sfn = local_backend.client("stepfunctions")
    arn = local_backend.info.state_machine_arn
    definition = sfn.describe_state_machine(stateMachineArn=arn)["definition"]
    sfn.update_state_machine(
        stateMachineArn=arn,
        definition=json.dumps({**json.loads(definition), "TimeoutSeconds": TOO_LARGE_EXECUTION_TIMEOUT}),
    )
    try:
        run_id = upload(local_backend, "fault-too-large")
        wait_until(
            lambda: jobs(local_backend, run_id),
            timeout=60,
            what=f"the job, within the {TOO_LARGE_EXECUTION_TIMEOUT} s",
        )
    finally:  # an execution keeps the definition it started with
        sfn.update_state_machine(stateMachineArn=arn, definition=definition)
    # Then the execution times out, the backstop terminates the job and records why it never ran
    seen = outcome(local_backend, backstop, run_id)
    assert seen.execution["status"] == "TIMED_OUT"
    assert (seen.record.status, seen.record.failure_class) == ("FAILED", FailureClass.RESOURCES_TOO_LARGE)
    (job,) = seen.jobs
    assert job["status"] == "FAILED" and "startedAt" not in job
    assert job["statusReason"].startswith("nsclient: stuck RUNNABLE: MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT")
    assert notice_subject(run_id, "FAILED (resources-too-large)").fullmatch(seen.subject)


# --- the launched scenarios: failure classes, and what is retried ----------------------------------------


def test_failed_rule_is_named(local_backend: Backend, backstop: HandlerSpy, launched: dict[str, str]) -> None:
    run_id = launched["fault-exit-code"]
    seen = outcome(local_backend, backstop, run_id)
    assert (seen.record.status, seen.record.failure_class) == ("FAILED", FailureClass.EXIT_CODE)
    assert seen.record.failed_rule == "broken"
    assert seen.record.exit_code not in (None, 0)
    assert "in rule broken" in seen.body
    assert notice_subject(run_id, "FAILED (exit-code)").fullmatch(seen.subject)
    assert "about to fail" in local_backend.archived_log(run_id)
    assert len(seen.jobs) == 1


def test_out_of_memory_is_not_retried(local_backend: Backend, backstop: HandlerSpy, launched: dict[str, str]) -> None:
    # Given the OOM killer ends the job, with an on-demand queue configured
    run_id = launched["fault-oom"]
    seen = outcome(local_backend, backstop, run_id, queues=(ON_DEMAND_QUEUE,))
    assert (seen.record.status, seen.record.failure_class) == ("FAILED", FailureClass.OUT_OF_MEMORY)
    assert seen.record.exit_code == 137
    assert notice_subject(run_id, "FAILED (out-of-memory)").fullmatch(seen.subject)
    # Then it is not run again: it would run out of memory again, at a cost
    assert len(seen.jobs) == 1
    assert "RetryOnDemandJob" not in visited_states(local_backend, run_id)
    assert local_backend.keys(log_key(run_id, None)) == [log_key(run_id, None)]


def test_spot_reclaim_is_retried_once_on_the_on_demand_queue(
    local_backend: Backend, backstop: HandlerSpy, launched: dict[str, str]
) -> None:
    assert local_backend.info.job_queue == SPOT_QUEUE
    run_id = launched["fault-spot-retry"]
    seen = outcome(local_backend, backstop, run_id, queues=(ON_DEMAND_QUEUE,))
    # The build ran again on the on-demand queue, and succeeded
    assert seen.record.status == "SUCCEEDED"
    assert seen.record.job_queue == ON_DEMAND_QUEUE
    assert seen.record.attempts == 2
    first, second = seen.jobs
    assert first["status"] == "FAILED" and first["statusReason"].startswith("Host EC2 (instance i-")
    assert first["jobQueue"].endswith(f"/{SPOT_QUEUE}")
    assert second["status"] == "SUCCEEDED" and second["jobQueue"].endswith(f"/{ON_DEMAND_QUEUE}")
    assert visited_states(local_backend, run_id).count("RetryOnDemandJob") == 1
    log = local_backend.archived_log(run_id)
    assert "attempt 1 on queue" in log and "attempt 2 on queue" in log and "the build ran" in log


def test_spot_reclaim_is_retried_only_once(
    local_backend: Backend, backstop: HandlerSpy, launched: dict[str, str]
) -> None:
    run_id = launched["fault-spot-twice"]
    seen = outcome(local_backend, backstop, run_id, queues=(ON_DEMAND_QUEUE,))
    assert (seen.record.status, seen.record.failure_class) == ("FAILED", FailureClass.SPOT_RECLAIMED)
    assert [job["status"] for job in seen.jobs] == ["FAILED", "FAILED"]
    assert visited_states(local_backend, run_id).count("RetryOnDemandJob") == 1


def test_job_timeout(local_backend: Backend, backstop: HandlerSpy, launched: dict[str, str]) -> None:
    # A job whose attempt may last 2 s (attemptDurationSeconds), running a 30 s build
    run_id = launched["fault-timeout"]
    seen = outcome(local_backend, backstop, run_id)
    assert (seen.record.status, seen.record.failure_class) == ("FAILED", FailureClass.TIMEOUT)
    assert notice_subject(run_id, "FAILED (timeout)").fullmatch(seen.subject)
    (job,) = seen.jobs
    assert (job["status"], job["statusReason"]) == ("FAILED", TIMEOUT_REASON)
    assert job["stoppedAt"] - job["startedAt"] < 20_000
    assert local_backend.keys(log_key(run_id, None)) == [log_key(run_id, None)]


def test_stuck_runnable_is_cancelled_by_the_queue(
    local_backend: Backend, backstop: HandlerSpy, launched: dict[str, str]
) -> None:
    # A job asking for more cpus than the compute environment has (8 here) waits RUNNABLE until the
    # queue's jobStateTimeLimitActions cancels it (after 3 s here)
    run_id = launched["fault-stuck"]
    seen = outcome(local_backend, backstop, run_id)
    assert (seen.record.status, seen.record.failure_class) == ("FAILED", FailureClass.STUCK_RUNNABLE)
    assert notice_subject(run_id, "FAILED (stuck-runnable)").fullmatch(seen.subject)
    (job,) = seen.jobs
    assert job["status"] == "FAILED" and "startedAt" not in job
    assert job["statusReason"].startswith("Canceled by JobStateTimeLimit action due to reason: MISCONFIGURATION:")
    assert "never started" in local_backend.archived_log(run_id)


def test_rejected_upload(local_backend: Backend, backstop: HandlerSpy, launched: dict[str, str]) -> None:
    run_id = launched["fault-rejected"]
    seen = outcome(local_backend, backstop, run_id)
    assert (seen.record.status, seen.record.failure_class) == ("REJECTED", FailureClass.REJECTED)
    assert notice_subject(run_id, "REJECTED").fullmatch(seen.subject)
    assert seen.record.reason and seen.record.reason in seen.body
    assert seen.jobs == []


def test_our_own_bug_is_internal(local_backend: Backend, backstop: HandlerSpy, launched: dict[str, str]) -> None:
    run_id = launched["fault-internal"]  # PrepareRun raises
    seen = outcome(local_backend, backstop, run_id)
    assert (seen.record.status, seen.record.failure_class) == ("FAILED", FailureClass.INTERNAL)
    assert "PrepareRun failed: InjectedCrash: injected crash in PrepareRunFunction" in str(seen.record.reason)
    assert notice_subject(run_id, "FAILED (internal)").fullmatch(seen.subject)
    assert seen.jobs == []


# --- the launched scenarios: crashes in our own steps ----------------------------------------------------


def test_collect_logs_crash_keeps_the_true_outcome(
    local_backend: Backend, backstop: HandlerSpy, launched: dict[str, str]
) -> None:
    run_id = launched["fault-collect-crash"]  # the OOM killer ends the job, then CollectLogs raises
    seen = outcome(local_backend, backstop, run_id)
    # The job's facts still decide the outcome; the record says the log could not be archived
    assert (seen.record.status, seen.record.failure_class) == ("FAILED", FailureClass.OUT_OF_MEMORY)
    assert "could not archive the job's log" in str(seen.record.reason)
    assert seen.record.log_url is None
    assert "FinalizeRunSafely" not in visited_states(local_backend, run_id)


def test_finalize_crash_falls_back_to_finalize_safely(
    local_backend: Backend, backstop: HandlerSpy, launched: dict[str, str]
) -> None:
    run_id = launched["fault-finalize-crash"]  # FinalizeRun raises, but not in safe mode
    seen = outcome(local_backend, backstop, run_id)
    assert "FinalizeRunSafely" in visited_states(local_backend, run_id)
    assert (seen.record.status, seen.record.failure_class) == ("FAILED", FailureClass.INTERNAL)
    assert "FinalizeRun failed: InjectedCrash" in str(seen.record.reason)
    assert seen.execution["status"] == "FAILED"
    assert [r for r in backstop.for_run(run_id) if isinstance(r, dict)] == [
        {"run_id": run_id, "action": "nothing to do"}
    ]


def test_finalize_and_its_fallback_crashing_leave_it_to_the_backstop(
    local_backend: Backend, backstop: HandlerSpy, launched: dict[str, str]
) -> None:
    run_id = launched["fault-wrapup-crash"]  # the OOM killer ends the job; FinalizeRun always raises
    seen = outcome(local_backend, backstop, run_id)
    assert seen.execution["status"] == "FAILED" and seen.execution.get("error") == "WrapUpFailed"
    # The backstop finalized the run from the job itself
    assert (seen.record.status, seen.record.failure_class) == ("FAILED", FailureClass.OUT_OF_MEMORY)
    assert local_backend.keys(log_key(run_id, None)) == [log_key(run_id, None)]
    assert any(isinstance(r, dict) and r["action"].startswith("finalized FAILED") for r in backstop.for_run(run_id))


def test_notify_crash_leaves_the_notice_to_the_backstop(
    local_backend: Backend, backstop: HandlerSpy, launched: dict[str, str]
) -> None:
    run_id = launched["fault-notify-crash"]  # the OOM killer ends the job; NotifyRun raises
    seen = outcome(local_backend, backstop, run_id)
    assert seen.execution["status"] == "FAILED" and seen.execution.get("error") == "WrapUpFailed"
    assert (seen.record.status, seen.record.failure_class) == ("FAILED", FailureClass.OUT_OF_MEMORY)
    assert any(isinstance(r, dict) and r["action"].endswith("notified") for r in backstop.for_run(run_id))


def test_racing_senders_send_one_notice(local_backend: Backend) -> None:
    # The state machine and the backstop (or a redelivered backstop event) may try at once
    from nsclient_common.delivery import deliver_notice
    from nsclient_common.notice import compose_notice
    from nsclient_common.record import RunStatus, utc_now
    from nsclient_common.settings import Settings

    record = RunRecord(run_id="fault-race-0000000000", status=RunStatus.SUCCEEDED, submitted_at=utc_now())
    settings = Settings(bucket=local_backend.info.bucket, topic_arn=local_backend.info.topic_arn)
    start = threading.Barrier(6)
    sent: list[bool] = []

    def send() -> None:
        s3, sns = local_backend.client("s3"), local_backend.client("sns")
        start.wait()
        sent.append(deliver_notice(compose_notice(record, []), settings, s3=s3, sns=sns, ses=None).sent)

    threads = [threading.Thread(target=send) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(sent) == [False] * 5 + [True]
    assert len(local_backend.topic_messages(record.run_id)) == 1
    assert not local_backend.keys(record_key(record.run_id, None))


# --- throttling ------------------------------------------------------------------------------------------


def test_throttling_is_retried(
    local_backend: Backend, backstop: HandlerSpy, launched: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.batch.models import BatchBackend
    from moto.core.exceptions import AWSError
    from moto.s3.exceptions import S3ClientError
    from moto.s3.models import S3Backend

    class TooManyRequests(AWSError):
        TYPE = "TooManyRequestsException"
        STATUS = 429

    class SlowDown(S3ClientError):
        code = "SlowDown"
        message = "Please reduce your request rate."

    throttled = {"SubmitJob": 0, "PutObject run.json": 0}
    submit_job, put_object = BatchBackend.submit_job, S3Backend.put_object

    def throttled_submit_job(self: Any, job_name: str, *args: Any, **kwargs: Any) -> Any:
        if job_name.startswith("fault-throttled-") and throttled["SubmitJob"] < 2:
            throttled["SubmitJob"] += 1
            raise TooManyRequests("Too Many Requests")
        return submit_job(self, job_name, *args, **kwargs)

    def throttled_put_object(self: Any, bucket_name: str, key_name: str, *args: Any, **kwargs: Any) -> Any:
        if key_name.startswith("runs/fault-throttled-") and key_name.endswith("/run.json"):
            if throttled["PutObject run.json"] < 2:
                throttled["PutObject run.json"] += 1
                raise SlowDown()
        return put_object(self, bucket_name, key_name, *args, **kwargs)

    # After the launched runs: the handlers' clients, shared in this process, slow down after throttling
    for run_id in launched.values():
        local_backend.wait_for_execution(run_id)
    monkeypatch.setattr(BatchBackend, "submit_job", throttled_submit_job)
    monkeypatch.setattr(S3Backend, "put_object", throttled_put_object)
    run_id = upload(local_backend, "fault-throttled")
    try:
        seen = outcome(local_backend, backstop, run_id)
    finally:
        # The handlers share one adaptive-retry client per service in this process (one per Lambda
        # container on AWS): start the next tests without the rate limit this throttling taught it.
        aws._client.cache_clear()
    assert throttled == {"SubmitJob": 2, "PutObject run.json": 2}
    assert seen.record.status == "SUCCEEDED"
    assert len(seen.jobs) == 1
    history = local_backend.client("stepfunctions").get_execution_history(
        executionArn=local_backend.execution_arn(run_id), maxResults=1000
    )["events"]
    failures = [e["taskFailedEventDetails"]["error"] for e in history if "taskFailedEventDetails" in e]
    assert failures == ["Batch.TooManyRequestsException"] * 2


# --- last: with no on-demand queue configured ------------------------------------------------------------


def test_spot_reclaim_is_not_retried_without_an_on_demand_queue(
    local_backend: Backend,
    local_runtime: LocalRuntime,
    job_faults: JobFaults,
    backstop: HandlerSpy,
    launched: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for run_id in launched.values():  # they run with the on-demand queue
        local_backend.wait_for_execution(run_id)
    for function in local_runtime.lambdas.functions.values():
        monkeypatch.setitem(function.environment, "ON_DEMAND_JOB_QUEUE", "")
    inject(monkeypatch, job_faults, JobFault.host_terminated("fault-spot-alone-"))
    run_id = upload(local_backend, "fault-spot-alone")
    seen = outcome(local_backend, backstop, run_id, queues=(ON_DEMAND_QUEUE,))
    assert (seen.record.status, seen.record.failure_class) == ("FAILED", FailureClass.SPOT_RECLAIMED)
    assert seen.record.exit_code is None
    assert "Host EC2 (instance i-" in str(seen.record.reason)
    assert notice_subject(run_id, "FAILED (spot-reclaimed)").fullmatch(seen.subject)
    assert [job["status"] for job in seen.jobs] == ["FAILED"]
    assert "RetryOnDemandJob" not in visited_states(local_backend, run_id)


# --- a long log ------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_million_line_log_is_archived_in_parts(local_backend: Backend, local_runtime: LocalRuntime) -> None:
    """CollectLogs' archive against the local backend's CloudWatch Logs and S3 (over a minute: most
    of it moto taking the events in and serving them back). Its speed and memory are measured in
    benchmarks/run.py, not asserted here."""
    from botocore.config import Config

    from nsclient_common.logarchive import TAIL_LINES, archive_log

    # Given a stream of 1,000,000 short lines, put as the awslogs driver would: 10,000 at a time
    group, stream, count = "/aws/batch/job", "nextstrain-job/default/fault-million", 1_000_000
    # (the test's own puts skip boto's client-side validation of 10,000 events a call: it is slow)
    putter: Any = boto3.client(
        "logs",
        endpoint_url=local_backend.info.endpoint_url,
        region_name=local_backend.info.region,
        config=Config(parameter_validation=False),
        **local_backend.admin.client_kwargs(),
    )
    putter.create_log_stream(logGroupName=group, logStreamName=stream)
    now = int(time.time() * 1000)
    for start in range(0, count, 10_000):
        events = [{"timestamp": now, "message": f"line {i:07d}"} for i in range(start, start + 10_000)]
        putter.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)

    # When the archive copies it (as CollectLogs does, with its role)
    key = "runs/fault-million-0000000000/logs/build.log"
    collector = local_function(local_runtime, "CollectLogsFunction").credentials
    assert collector is not None
    summary = archive_log(
        local_backend.client_as("logs", collector),
        local_backend.client_as("s3", collector),
        group=group,
        stream=stream,
        bucket=local_backend.info.bucket,
        key=key,
    )
    s3 = local_backend.client("s3")

    # Then every line is there, in order, sent as a multipart upload
    assert (summary.lines, summary.bytes) == (count, count * len("line 0000000\n"))
    assert summary.tail == [f"line {i:07d}" for i in range(count - TAIL_LINES, count)]
    head = s3.head_object(Bucket=local_backend.info.bucket, Key=key)
    assert head["ContentLength"] == summary.bytes
    assert head["ETag"].strip('"').endswith("-2"), "two parts of 8 MiB or less"
    first = s3.get_object(Bucket=local_backend.info.bucket, Key=key, Range="bytes=0-25")["Body"].read()
    last = s3.get_object(Bucket=local_backend.info.bucket, Key=key, Range="bytes=-26")["Body"].read()
    assert (first, last) == (b"line 0000000\nline 0000001\n", b"line 0999998\nline 0999999\n")
