"""The execution's data as the state machine carries it: StartRun's input, and each state's result under
$.results.<state> (or its error under $.errors.<state>). Every handler reads and writes through these
models; a test checks them against statemachine/run_build.asl.yaml, path by path.

The run's owner (its folder under runs/) is derived here, once, from the upload's inbox folder when the
input is made; every later step reads it from the input."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from nsclient_common.delivery import Delivery
from nsclient_common.describedjob import JobFacts, facts_from_state
from nsclient_common.layout import owner_of_inbox_key
from nsclient_common.logarchive import LogSummary
from nsclient_common.notice import Notice
from nsclient_common.record import RunRecord
from nsclient_common.states import (
    COLLECT_LOGS,
    FINALIZE_RUN,
    FINALIZE_RUN_SAFELY,
    JOB_STATES,
    NOTIFY_RUN,
    PREPARE_RUN,
    RETRY_ON_DEMAND_JOB,
    SUBMIT_BUILD_JOB,
)


class Upload(BaseModel):
    """The uploaded object that started the run, as S3's event named it."""

    bucket: str
    key: str
    version_id: str | None = None
    size: int | None = None
    requester: str | None = None


class ExecutionInput(BaseModel):
    run_id: str
    execution_arn: str | None = None
    upload: Upload | None = None
    owner: str | None = None  # the uploader: the folder of inbox/ that IAM let them write into
    delivery_id: str | None = None  # StartRun's, so that only one delivery of an event starts the run

    @model_validator(mode="before")
    @classmethod
    def _owner_of_upload(cls, data: Any) -> Any:
        # The one place the owner is derived. An input that carries it (null included) is taken as it is;
        # one without (an execution started before inputs carried it) is read the same way.
        if isinstance(data, dict) and "owner" not in data and data.get("upload"):
            upload = data["upload"]
            key = upload.key if isinstance(upload, Upload) else upload.get("key")
            return {**data, "owner": owner_of_inbox_key(str(key or ""))}
        return data

    @classmethod
    def from_json(cls, text: str | None) -> ExecutionInput | None:
        """An execution's input as DescribeExecution and its status events give it (None: none given)."""
        return cls.model_validate_json(text) if text else None

    def start_json(self) -> str:
        """The input StartExecution is given: no state has a result or an error yet."""
        return json.dumps({**self.model_dump(mode="json"), "results": {}, "errors": {}}, sort_keys=True)


class PrepareInput(ExecutionInput):
    """PrepareRun's input: a run always has its upload."""

    upload: Upload


class TaskError(BaseModel):
    """What a Catch puts at $.errors.<state>: Step Functions' error name and its cause."""

    Error: str | None = None
    Cause: str | None = None


class JobRequest(BaseModel):
    """The SubmitJob parameters the job states pass on, cased as batch:submitJob takes them."""

    JobName: str
    JobQueue: str
    JobDefinition: str
    ContainerOverrides: dict[str, Any]


class PrepareResult(BaseModel):
    accepted: bool
    reason: str | None  # why not, for a person
    job: JobRequest | None
    record: RunRecord


class CollectResult(BaseModel):
    log: LogSummary
    job: JobFacts  # the last job's facts, with the attempts of all
    jobs: int = 1  # how many jobs the run ran (two after a Spot reclaim): the cost counts each
    on_demand_job_queue: str | None = None  # the queue to run the job again on (IsSpotReclaimed), or null


class FinalizeResult(BaseModel):
    record: RunRecord
    notice: Notice


class _ByState(BaseModel):
    """Fields named by the state machine's state names (their aliases)."""

    model_config = ConfigDict(populate_by_name=True)

    def of(self, state: str) -> Any:
        """The field of the state with this name, None when the state has none."""
        for name, field in type(self).model_fields.items():
            if field.alias == state:
                return getattr(self, name)
        raise KeyError(state)


class Results(_ByState):
    """$.results: each Task's result under its state's name. A job state's is Batch's job description."""

    prepare_run: PrepareResult | None = Field(None, alias=PREPARE_RUN)
    submit_build_job: dict[str, Any] | None = Field(None, alias=SUBMIT_BUILD_JOB)
    collect_logs: CollectResult | None = Field(None, alias=COLLECT_LOGS)
    retry_on_demand_job: dict[str, Any] | None = Field(None, alias=RETRY_ON_DEMAND_JOB)
    finalize_run: FinalizeResult | None = Field(None, alias=FINALIZE_RUN)
    notify_run: Delivery | None = Field(None, alias=NOTIFY_RUN)


class Errors(_ByState):
    """$.errors: each Task's caught error under its state's name."""

    prepare_run: TaskError | None = Field(None, alias=PREPARE_RUN)
    submit_build_job: TaskError | None = Field(None, alias=SUBMIT_BUILD_JOB)
    collect_logs: TaskError | None = Field(None, alias=COLLECT_LOGS)
    retry_on_demand_job: TaskError | None = Field(None, alias=RETRY_ON_DEMAND_JOB)
    finalize_run: TaskError | None = Field(None, alias=FINALIZE_RUN)
    finalize_run_safely: TaskError | None = Field(None, alias=FINALIZE_RUN_SAFELY)
    notify_run: TaskError | None = Field(None, alias=NOTIFY_RUN)


class RunState(ExecutionInput):
    """The whole state, as CollectLogs and FinalizeRun are given it."""

    results: Results = Results()
    errors: Errors = Errors()

    def job_history(self) -> list[JobFacts]:
        """The facts of every job the execution ran (or tried to), oldest first."""
        found = []
        for state in JOB_STATES:
            result, error = self.results.of(state), self.errors.of(state)
            if result or error:
                found.append(facts_from_state(result, error.model_dump() if error else None))
        return found


class FinalizeInput(RunState):
    # The FinalizeRunSafely fallback: trust nothing but the input and the errors.
    safe_mode: bool = False


class NotifyInput(BaseModel):
    notice: Notice


# Each Lambda Task's input model: the whole state, or what its Parameters select.
TASK_INPUTS: dict[str, type[BaseModel]] = {
    PREPARE_RUN: PrepareInput,
    COLLECT_LOGS: RunState,
    FINALIZE_RUN: FinalizeInput,
    FINALIZE_RUN_SAFELY: FinalizeInput,
    NOTIFY_RUN: NotifyInput,
}
