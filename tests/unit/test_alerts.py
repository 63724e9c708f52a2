"""The team's alarm on nsclient's own failures rests on one metric: each run finalized with failure
class internal is counted once, in CloudWatch's embedded metric format, by whichever handler finalized
it (FinalizeRun, its safe mode, or the ReconcileRun backstop); other outcomes count nothing."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest

from nsclient_common.alerts import INTERNAL_FAILURE_METRIC
from nsclient_common.record import FailureClass, RunRecord, RunStatus, utc_now
from nsclient_common.runstore import read_record, write_record

ROOT = Path(__file__).resolve().parents[2]
BUCKET = "builds"
NAMESPACE = "nsclient"


def load_handler_module(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"{name}_app_alerts", ROOT / "functions" / name / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@dataclass
class Context:
    function_name: str = "function"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:function"
    aws_request_id: str = "request-1"

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


class NoJobs:
    """Batch with no job for the run (it failed before submitting one)."""

    def list_jobs(self, **kwargs: Any) -> dict[str, Any]:
        return {"jobSummaryList": []}


@pytest.fixture
def s3(moto_account: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    factory: Any = boto3.client
    client = factory("s3", region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    monkeypatch.setenv("BUCKET_NAME", BUCKET)
    monkeypatch.delenv("TOPIC_ARN", raising=False)
    monkeypatch.delenv("NOTIFY_FROM", raising=False)
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    yield client


def emitted(output: str) -> list[dict[str, Any]]:
    """The embedded-metric-format documents a handler printed: (metric values, dimensions)."""
    documents = []
    for line in output.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            documents.append(json.loads(line))
    return documents


def internal_failures(output: str) -> list[tuple[Any, str, dict[str, str]]]:
    """(values, namespace, dimensions) of each RunsFailedInternally the output carries."""
    found = []
    for document in emitted(output):
        for directive in document["_aws"]["CloudWatchMetrics"]:
            names = [metric["Name"] for metric in directive["Metrics"]]
            if INTERNAL_FAILURE_METRIC in names:
                [dimension_set] = directive["Dimensions"]
                dimensions = {name: document[name] for name in dimension_set}
                found.append((document[INTERNAL_FAILURE_METRIC], directive["Namespace"], dimensions))
    return found


def test_finalize_safely_counts_an_internal_failure(s3: Any, capsys: pytest.CaptureFixture[str]) -> None:
    app = load_handler_module("finalize_run")
    monkeypatch_client(app, {"s3": s3})
    event = {"run_id": "crashed-0123456789", "safe_mode": True, "errors": {"FinalizeRun": {"Error": "Boom"}}}

    app.lambda_handler(event, Context())

    assert read_record(s3, BUCKET, "crashed-0123456789", None).failure_class == FailureClass.INTERNAL
    [(value, namespace, dimensions)] = internal_failures(capsys.readouterr().out)
    # What InternalFailureAlarm watches: one count, in the stack's namespace, for the service
    assert (value, namespace, dimensions) == ([1.0], NAMESPACE, {"service": "nsclient"})


def test_a_run_already_final_is_not_counted_again(s3: Any, capsys: pytest.CaptureFixture[str]) -> None:
    app = load_handler_module("finalize_run")
    monkeypatch_client(app, {"s3": s3})
    final = RunRecord(
        run_id="done-0123456789",
        status=RunStatus.FAILED,
        failure_class=FailureClass.INTERNAL,
        submitted_at=utc_now(),
        finished_at=utc_now(),
    )
    write_record(s3, BUCKET, final)

    app.lambda_handler({"run_id": final.run_id, "safe_mode": True, "errors": {}}, Context())

    assert internal_failures(capsys.readouterr().out) == []


def test_backstop_counts_the_internal_failure_it_records(s3: Any, capsys: pytest.CaptureFixture[str]) -> None:
    app = load_handler_module("reconcile_run")
    factory: Any = boto3.client
    monkeypatch_client(
        app, {"s3": s3, "batch": NoJobs(), "logs": factory("logs", region_name="us-east-1"), "sns": None}
    )
    run_id = "lost-0123456789"
    detail = {"executionArn": f"arn:aws:states:::execution:sm:{run_id}", "name": run_id, "status": "FAILED"}

    app.lambda_handler({"detail": {**detail, "error": "States.Runtime", "cause": "boom"}}, Context())

    assert read_record(s3, BUCKET, run_id, None).failure_class == FailureClass.INTERNAL
    assert [value for value, _, _ in internal_failures(capsys.readouterr().out)] == [[1.0]]


def test_a_cancelled_run_counts_nothing(s3: Any, capsys: pytest.CaptureFixture[str]) -> None:
    app = load_handler_module("reconcile_run")
    factory: Any = boto3.client
    monkeypatch_client(
        app, {"s3": s3, "batch": NoJobs(), "logs": factory("logs", region_name="us-east-1"), "sns": None}
    )
    run_id = "stopped-0123456789"
    detail = {"executionArn": f"arn:aws:states:::execution:sm:{run_id}", "name": run_id, "status": "ABORTED"}

    app.lambda_handler({"detail": detail}, Context())

    assert read_record(s3, BUCKET, run_id, None).status == RunStatus.CANCELLED
    assert internal_failures(capsys.readouterr().out) == []


def monkeypatch_client(module: ModuleType, clients: dict[str, Any]) -> None:
    """The handler's AWS clients: these (the module is loaded afresh by each test)."""
    module.client = clients.__getitem__  # type: ignore[attr-defined]
