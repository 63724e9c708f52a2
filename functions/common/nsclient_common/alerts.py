"""The metric the team is alerted on: a run that nsclient itself failed to finish.

A run finalized with failure class `internal` is a bug in nsclient, not in the build, so each one
is counted (CloudWatch embedded metric format, through powertools Metrics) and an alarm on the count
(template.yaml, InternalFailureAlarm) tells the team topic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_lambda_powertools.metrics import MetricUnit

from nsclient_common.record import FailureClass

if TYPE_CHECKING:
    from aws_lambda_powertools import Metrics

    from nsclient_common.record import RunRecord

INTERNAL_FAILURE_METRIC = "RunsFailedInternally"


def count_finalized(metrics: Metrics, record: RunRecord) -> None:
    """Count a run this invocation has just made final, if nsclient's own failure ended it."""
    if record.failure_class == FailureClass.INTERNAL:
        metrics.add_metric(name=INTERNAL_FAILURE_METRIC, unit=MetricUnit.Count, value=1)
