"""Logs, traces and metrics of the functions: powertools' Logger, Tracer and Metrics, set up alike.

Each function logs and traces as its own service (its name); every metric goes to one namespace with one
`service` dimension, so a count (runs started, succeeded, failed by class; notices delivered by channel and
outcome) adds up across the functions that emit it, and InternalFailureAlarm watches one metric.

Metrics are written in CloudWatch's embedded metric format (a log line, no API call), each count flushed at
once through its own EphemeralMetrics: the local backend runs every handler in one process, where powertools'
shared Metrics store would mix one invocation's counts into another's. The Tracer stays off outside Lambda
(powertools disables it without LAMBDA_TASK_ROOT), so handlers run in-process and in tests unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from nsclient_common.alerts import INTERNAL_FAILURE_METRIC
from nsclient_common.record import FailureClass, RunStatus

if TYPE_CHECKING:
    from nsclient_common.delivery import Delivery
    from nsclient_common.record import RunRecord

METRICS_NAMESPACE = "nsclient"
METRICS_SERVICE = "nsclient"
RUNS_STARTED = "RunsStarted"
RUNS_SUCCEEDED = "RunsSucceeded"
RUNS_FAILED = "RunsFailed"  # with a failure_class dimension
NOTICE_DELIVERIES = "NoticeDeliveries"  # with channel (topic, email) and outcome dimensions


@dataclass(frozen=True)
class Observability:
    logger: Logger
    tracer: Tracer


def for_function(name: str) -> Observability:
    """The Logger and Tracer of the function `name` (e.g. "StartRun")."""
    return Observability(logger=Logger(service=name), tracer=Tracer(service=name))


def count(metric: str, **dimensions: str) -> None:
    """Emit one count of `metric` now (nothing when POWERTOOLS_METRICS_DISABLED is set)."""
    metrics = EphemeralMetrics(namespace=METRICS_NAMESPACE, service=METRICS_SERVICE)
    for name, value in dimensions.items():
        metrics.add_dimension(name=name, value=value)
    metrics.add_metric(name=metric, unit=MetricUnit.Count, value=1)
    metrics.flush_metrics()


def count_run_started() -> None:
    count(RUNS_STARTED)


def count_run_finished(record: RunRecord) -> None:
    """Count a run this invocation has just made final: succeeded, or failed by its failure class.

    A rejected upload counts as failed (class `rejected`); an internal failure also counts towards the alarm.
    """
    if record.status == RunStatus.SUCCEEDED:
        count(RUNS_SUCCEEDED)
        return
    count(RUNS_FAILED, failure_class=str(record.failure_class or "unknown"))
    if record.failure_class == FailureClass.INTERNAL:
        count(INTERNAL_FAILURE_METRIC)


def count_notice_delivery(delivery: Delivery) -> None:
    """Count what became of a notice: published to the topic (or sent before), emailed (or refused)."""
    count(NOTICE_DELIVERIES, channel="topic", outcome="sent" if delivery.sent else "already-sent")
    if delivery.email is not None:
        count(NOTICE_DELIVERIES, channel="email", outcome="delivered" if delivery.email.delivered else "refused")
