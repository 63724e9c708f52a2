"""The metric the team is alerted on: a run that nsclient itself failed to finish.

A run finalized with failure class `internal` is a bug in nsclient, not in the build, so each one
is counted (nsclient_common.observability.count_run_finished) and an alarm on the count
(template.yaml, InternalFailureAlarm) tells the team topic.
"""

from __future__ import annotations

INTERNAL_FAILURE_METRIC = "RunsFailedInternally"
