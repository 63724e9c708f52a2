"""What the functions count, as CloudWatch reads it from their output (embedded metric format), and that
tracing stays off outside Lambda, where the local backend and the tests run the handlers."""

from __future__ import annotations

import json
from typing import Any

import pytest

from nsclient_common.alerts import INTERNAL_FAILURE_METRIC
from nsclient_common.delivery import Delivery, EmailOutcome
from nsclient_common.observability import (
    METRICS_NAMESPACE,
    NOTICE_DELIVERIES,
    RUNS_FAILED,
    RUNS_SUCCEEDED,
    count_notice_delivery,
    count_run_finished,
    for_function,
)
from nsclient_common.record import FailureClass, RunRecord, RunStatus, utc_now


@pytest.fixture(autouse=True)
def _metrics_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)


def counts(output: str) -> list[dict[str, Any]]:
    found = []
    for line in output.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            document = json.loads(line)
            for directive in document["_aws"]["CloudWatchMetrics"]:
                dimensions = {name: document[name] for names in directive["Dimensions"] for name in names}
                for metric in directive["Metrics"]:
                    found.append({"name": metric["Name"], "value": document[metric["Name"]], **dimensions})
                assert directive["Namespace"] == METRICS_NAMESPACE
    return found


def finished(status: RunStatus, failure_class: FailureClass | None = None) -> RunRecord:
    return RunRecord(run_id="zika-0123456789", status=status, failure_class=failure_class, submitted_at=utc_now())


def test_a_succeeded_run_is_counted_as_succeeded(capsys: pytest.CaptureFixture[str]) -> None:
    count_run_finished(finished(RunStatus.SUCCEEDED))
    assert counts(capsys.readouterr().out) == [{"name": RUNS_SUCCEEDED, "value": [1.0], "service": "nsclient"}]


@pytest.mark.parametrize("failure_class", [FailureClass.OUT_OF_MEMORY, FailureClass.REJECTED, FailureClass.CANCELLED])
def test_a_failed_run_is_counted_by_its_failure_class(
    capsys: pytest.CaptureFixture[str], failure_class: FailureClass
) -> None:
    count_run_finished(finished(RunStatus.FAILED, failure_class))
    assert counts(capsys.readouterr().out) == [
        {"name": RUNS_FAILED, "value": [1.0], "service": "nsclient", "failure_class": str(failure_class)}
    ]


def test_an_internal_failure_also_counts_towards_the_alarm(capsys: pytest.CaptureFixture[str]) -> None:
    count_run_finished(finished(RunStatus.FAILED, FailureClass.INTERNAL))
    names = [(c["name"], c.get("failure_class")) for c in counts(capsys.readouterr().out)]
    assert names == [(RUNS_FAILED, "internal"), (INTERNAL_FAILURE_METRIC, None)]


def test_notice_deliveries_are_counted_by_channel_and_outcome(capsys: pytest.CaptureFixture[str]) -> None:
    count_notice_delivery(Delivery(sent=True, email=EmailOutcome(to="a@example.org", delivered=False)))
    count_notice_delivery(Delivery(sent=False))
    seen = [(c["channel"], c["outcome"]) for c in counts(capsys.readouterr().out) if c["name"] == NOTICE_DELIVERIES]
    assert seen == [("topic", "sent"), ("email", "refused"), ("topic", "already-sent")]


def test_nothing_is_printed_when_metrics_are_disabled(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")  # as the local backend runs the handlers
    count_run_finished(finished(RunStatus.SUCCEEDED))
    assert counts(capsys.readouterr().out) == []


def test_tracing_is_off_outside_lambda(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POWERTOOLS_TRACE_DISABLED", raising=False)
    monkeypatch.delenv("LAMBDA_TASK_ROOT", raising=False)
    observability = for_function("StartRun")
    assert observability.tracer.disabled
    assert observability.logger.service == "StartRun"
