"""The names of the state machine's states that the code reads (statemachine/run_build.asl.yaml): each
state writes its result to $.results.<name> and the error it caught to $.errors.<name>."""

from __future__ import annotations

PREPARE_RUN = "PrepareRun"
SUBMIT_BUILD_JOB = "SubmitBuildJob"
RETRY_ON_DEMAND_JOB = "RetryOnDemandJob"
COLLECT_LOGS = "CollectLogs"
FINALIZE_RUN = "FinalizeRun"

# The job states, oldest first: a job whose Spot host was reclaimed runs once more on the on-demand queue.
JOB_STATES = (SUBMIT_BUILD_JOB, RETRY_ON_DEMAND_JOB)
