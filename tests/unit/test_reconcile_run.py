"""ReconcileRun's waits are bounded by the time its invocation has left: a job that does not stop when
terminated is waited for only as long as the function can afford, and the run is still recorded and
notified (S3, SNS and CloudWatch Logs are moto's; Batch is a job that never stops)."""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest

from nsclient_common.layout import notice_key, record_key
from nsclient_common.record import FailureClass, RunRecord, RunStatus
from tests.support import VirtualClock

ROOT = Path(__file__).resolve().parents[2]
BUCKET = "builds"
RUN_ID = "cancelled-0123456789"
STREAM = "nextstrain-job/default/abc"


def load_handler_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("reconcile_run_app", ROOT / "functions" / "reconcile_run" / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


class JobThatNeverStops:
    """Batch, for a job that stays RUNNING however often it is terminated."""

    def __init__(self) -> None:
        self.job = {
            "jobId": "job-1",
            "jobName": RUN_ID,
            "jobQueue": "nextstrain-job-queue",
            "status": "RUNNING",
            "createdAt": 1,
            "startedAt": 2,
            "container": {"logStreamName": STREAM},
        }
        self.terminated: list[str] = []

    def list_jobs(self, **kwargs: Any) -> dict[str, Any]:
        return {"jobSummaryList": [{"jobId": "job-1", "jobName": RUN_ID, "createdAt": 1}]}

    def describe_jobs(self, **kwargs: Any) -> dict[str, Any]:
        return {"jobs": [dict(self.job)]}

    def terminate_job(self, jobId: str, reason: str) -> None:  # noqa: N803 - boto3's parameter names
        self.terminated.append(reason)


@dataclass
class Context:
    clock: VirtualClock
    remaining_seconds: float
    function_name: str = "ReconcileRunFunction"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:ReconcileRunFunction"
    aws_request_id: str = "request-1"

    def __post_init__(self) -> None:
        self.ends = self.clock.now + self.remaining_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.ends - self.clock.now) * 1000))


@pytest.fixture
def aws(moto_account: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    factory: Any = boto3.client
    s3, sns, logs = (factory(name, region_name="us-east-1") for name in ("s3", "sns", "logs"))
    s3.create_bucket(Bucket=BUCKET)
    topic = sns.create_topic(Name="notices")["TopicArn"]
    logs.create_log_group(logGroupName="/aws/batch/job")
    logs.create_log_stream(logGroupName="/aws/batch/job", logStreamName=STREAM)
    logs.put_log_events(
        logGroupName="/aws/batch/job",
        logStreamName=STREAM,
        logEvents=[{"timestamp": int(time.time() * 1000), "message": "slow build started"}],
    )
    monkeypatch.setenv("BUCKET_NAME", BUCKET)
    monkeypatch.setenv("TOPIC_ARN", topic)
    monkeypatch.delenv("NOTIFY_FROM", raising=False)
    yield {"s3": s3, "sns": sns, "logs": logs, "batch": JobThatNeverStops()}


def test_wait_for_a_job_to_stop_ends_with_the_invocations_time(
    aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    app = load_handler_module()
    monkeypatch.setattr(app, "client", lambda service: aws[service])
    clock = VirtualClock()
    clock.install(app, monkeypatch)
    # Given an execution stopped from the console, whose job will not stop, and an invocation with
    # 3 s left beyond what the function keeps for finishing (the full wait would be 90 s)
    event = {"detail": {"executionArn": f"arn:aws:states:::execution:sm:{RUN_ID}", "name": RUN_ID, "status": "ABORTED"}}
    context = Context(clock, remaining_seconds=app.FINISH_RESERVE_SECONDS + 3)
    started = clock.now

    result = app.lambda_handler(event, context)

    # Then it waited for the job no longer than the 3 s, kept the reserve, and still wrapped the run up
    assert clock.slept and clock.now - started <= 3
    assert aws["batch"].terminated == ["Cancelled by nsclient"]
    assert result == {"run_id": RUN_ID, "action": "finalized CANCELLED, notified"}
    record = RunRecord.from_json(aws["s3"].get_object(Bucket=BUCKET, Key=record_key(RUN_ID, None))["Body"].read())
    assert (record.status, record.failure_class) == (RunStatus.CANCELLED, FailureClass.CANCELLED)
    notice = json.loads(aws["s3"].get_object(Bucket=BUCKET, Key=notice_key(RUN_ID, None))["Body"].read())
    assert notice["state"] == "sent"
