"""The state machine's state names that the code reads (statemachine/run_build.asl.yaml): each is the key
of its result under $.results and of its error under $.errors. Tests check them against the definition."""

from __future__ import annotations

PREPARE_RUN = "PrepareRun"
SUBMIT_BUILD_JOB = "SubmitBuildJob"
COLLECT_LOGS = "CollectLogs"
RETRY_ON_DEMAND_JOB = "RetryOnDemandJob"
FINALIZE_RUN = "FinalizeRun"
FINALIZE_RUN_SAFELY = "FinalizeRunSafely"
NOTIFY_RUN = "NotifyRun"

# The job states, oldest first: a run has one job, or two when a Spot reclaim was run again on demand.
JOB_STATES = (SUBMIT_BUILD_JOB, RETRY_ON_DEMAND_JOB)
# Our own steps whose failure is nsclient's, not the build's, in the order they run.
OWN_STEPS = (PREPARE_RUN, COLLECT_LOGS, FINALIZE_RUN)
