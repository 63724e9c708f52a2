"""StartRun and CancelRun, from the S3 "Object Created" events EventBridge delivers."""

from __future__ import annotations

import json
from typing import Any

import pytest

from nsclient_common.execution import ExecutionInput, Upload
from nsclient_common.layout import cancel_request_key, inbox_key
from nsclient_common.observability import METRICS_NAMESPACE, RUNS_STARTED
from nsclient_common.runid import run_id_for_upload
from tests.handlers.conftest import OWNER, LambdaContext, Stack, event, handler, metrics_emitted


def uploaded(stack: Stack, key: str) -> dict[str, Any]:
    """Upload a build to `key` and return the Object Created event S3 sends for it (the sample, filled in)."""
    version = stack.s3.put_object(Bucket=stack.bucket, Key=key, Body=b"PK\x05\x06" + bytes(18))["VersionId"]
    return s3_event(stack, "start_run/object_created", key, version, size=22)


def s3_event(stack: Stack, sample: str, key: str, version: str, size: int) -> dict[str, Any]:
    """The sample S3 event, for an object of this stack's bucket."""
    created = event(sample)
    created["resources"] = [f"arn:aws:s3:::{stack.bucket}"]
    created["detail"]["bucket"]["name"] = stack.bucket
    created["detail"]["object"].update({"key": key, "version-id": version, "size": size})
    return created


def test_an_upload_starts_one_execution_named_by_its_run_id(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    app = handler("start_run")
    created = uploaded(stack, inbox_key("zika", OWNER))
    run_id = run_id_for_upload(created["detail"]["object"]["key"], created["detail"]["object"]["version-id"])

    first = app.lambda_handler(created, LambdaContext("StartRunFunction"))
    again = app.lambda_handler(created, LambdaContext("StartRunFunction"))  # EventBridge delivers it again

    assert first == {"run_id": run_id, "started": True, "reason": "started"}
    assert again["started"] is False and again["run_id"] == run_id
    [execution] = stack.sfn.list_executions(stateMachineArn=stack.state_machine_arn)["executions"]
    assert execution["name"] == run_id
    given = json.loads(stack.sfn.describe_execution(executionArn=execution["executionArn"])["input"])
    assert given["upload"] == {
        "bucket": stack.bucket,
        "key": f"inbox/{OWNER}/zika.zip",
        "version_id": created["detail"]["object"]["version-id"],
        "size": 22,
        "requester": "123456789012",
    }
    # The owner is derived once, here, and carried to every later step.
    assert given["owner"] == OWNER and given["results"] == given["errors"] == {}
    started = [m for m in metrics_emitted(capsys.readouterr().out) if m["metric"] == RUNS_STARTED]
    assert started == [{"metric": RUNS_STARTED, "namespace": METRICS_NAMESPACE, "service": "nsclient"}]


@pytest.mark.parametrize("key", [f"inbox/{OWNER}/zika.env.d", "runs/zika-0123456789/workdir.zip"])
def test_an_object_that_is_no_upload_starts_nothing(stack: Stack, key: str) -> None:
    answer = handler("start_run").lambda_handler(uploaded(stack, key), LambdaContext("StartRunFunction"))

    assert answer == {"run_id": None, "started": False, "reason": f"not an upload: s3://{stack.bucket}/{key}"}
    assert stack.sfn.list_executions(stateMachineArn=stack.state_machine_arn)["executions"] == []


def test_an_event_that_is_not_s3s_is_refused(stack: Stack) -> None:
    not_s3 = event("start_run/object_created")
    del not_s3["detail"]["object"]

    with pytest.raises(ValueError, match="object"):
        handler("start_run").lambda_handler(not_s3, LambdaContext("StartRunFunction"))
    assert stack.sfn.list_executions(stateMachineArn=stack.state_machine_arn)["executions"] == []


def cancel_requested(stack: Stack) -> dict[str, Any]:
    """The sample cancel request, put in this stack's bucket."""
    key = event("cancel_run/cancel_requested")["detail"]["object"]["key"]
    version = stack.s3.put_object(Bucket=stack.bucket, Key=key, Body=b"")["VersionId"]
    return s3_event(stack, "cancel_run/cancel_requested", key, version, size=0)


def start_execution(stack: Stack, run_id: str, owner: str) -> str:
    execution = ExecutionInput(run_id=run_id, upload=Upload(bucket=stack.bucket, key=inbox_key("zika", owner)))
    arn: str = stack.sfn.start_execution(
        stateMachineArn=stack.state_machine_arn, name=run_id, input=execution.start_json()
    )["executionArn"]
    return arn


def test_a_persons_cancel_request_stops_their_run(stack: Stack) -> None:
    request = cancel_requested(stack)
    run_id = request["detail"]["object"]["key"].rsplit("/", 1)[1].removesuffix(".cancel")
    assert request["detail"]["object"]["key"] == cancel_request_key(run_id, OWNER)
    execution = start_execution(stack, run_id, OWNER)

    answer = handler("cancel_run").lambda_handler(request, LambdaContext("CancelRunFunction"))

    assert answer == {"run_id": run_id, "stopped": True, "reason": "stopped"}
    assert stack.sfn.describe_execution(executionArn=execution)["status"] == "ABORTED"


def test_a_cancel_request_for_someone_elses_run_stops_nothing(stack: Stack) -> None:
    request = cancel_requested(stack)
    run_id = request["detail"]["object"]["key"].rsplit("/", 1)[1].removesuffix(".cancel")
    execution = start_execution(stack, run_id, "AIDASOMEONEELSE0001")

    answer = handler("cancel_run").lambda_handler(request, LambdaContext("CancelRunFunction"))

    assert answer == {"run_id": run_id, "stopped": False, "reason": "refused: the run is not the asker's"}
    assert stack.sfn.describe_execution(executionArn=execution)["status"] == "RUNNING"
