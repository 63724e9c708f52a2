"""The execution's data (nsclient_common.execution): the owner is derived once, when the input is made,
and read as carried from then on; a state's result is read through the models each step returns."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from nsclient_common.describedjob import latest_of
from nsclient_common.execution import ExecutionInput, RunState, Upload
from nsclient_common.layout import inbox_key

OWNER = "AIDAEXAMPLEOWNER01"
RUN_ID = "zika-0123456789"


def test_the_input_made_from_an_upload_names_its_owner_and_starts_with_no_results() -> None:
    made = ExecutionInput(run_id=RUN_ID, upload=Upload(bucket="builds", key=inbox_key("zika", OWNER)))

    started = json.loads(made.start_json())

    assert started["owner"] == OWNER
    assert (started["results"], started["errors"]) == ({}, {})
    assert ExecutionInput.from_json(made.start_json()) == made


def test_an_upload_directly_under_inbox_has_no_owner() -> None:
    made = ExecutionInput(run_id=RUN_ID, upload=Upload(bucket="builds", key=inbox_key("zika", None)))
    assert made.owner is None


def test_a_carried_owner_is_read_as_it_is_not_derived_again() -> None:
    # The upload's folder says OWNER, the input says no owner: what was carried counts.
    carried = {"run_id": RUN_ID, "owner": None, "upload": {"bucket": "builds", "key": inbox_key("zika", OWNER)}}
    assert ExecutionInput.model_validate(carried).owner is None


def test_an_input_written_before_inputs_carried_the_owner_is_read_with_it() -> None:
    older = json.dumps({"run_id": RUN_ID, "upload": {"bucket": "builds", "key": inbox_key("zika", OWNER)}})
    read = ExecutionInput.from_json(older)
    assert read is not None and read.owner == OWNER


def test_no_input_is_none_and_a_malformed_one_is_refused() -> None:
    assert ExecutionInput.from_json(None) is None and ExecutionInput.from_json("") is None
    with pytest.raises(ValidationError):
        ExecutionInput.from_json('{"upload": {}}')


def test_the_job_history_is_read_from_the_job_states_oldest_first() -> None:
    spot = {"jobId": "job-1", "jobQueue": "spot", "status": "FAILED", "attempts": [{}]}
    on_demand = {"jobId": "job-2", "jobQueue": "on-demand", "status": "SUCCEEDED", "attempts": [{}]}
    state = RunState.model_validate(
        {
            "run_id": RUN_ID,
            "results": {"RetryOnDemandJob": on_demand},
            "errors": {"SubmitBuildJob": {"Error": "States.TaskFailed", "Cause": json.dumps(spot)}},
        }
    )

    history = state.job_history()

    assert [job.job_id for job in history] == ["job-1", "job-2"]
    assert (latest_of(history).job_queue, latest_of(history).attempts) == ("on-demand", 2)
