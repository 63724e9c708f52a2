"""StartRun: an S3 "Object Created" event under inbox/ starts the run's execution.

Called by the EventBridge rule on the builds bucket (and, locally, by the local backend's
delivery of the same event). The execution is named by the run id, which is derived from the
object's key and version: a redelivered event finds the execution already there and starts
nothing. Output: run_id, started (false for a duplicate or an ignored key), reason.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import (
    S3EventNotificationEventBridgeDetailModel,
    S3EventNotificationEventBridgeModel,
)
from pydantic import BaseModel

from nsclient_common.aws import client
from nsclient_common.execution import ExecutionInput, Upload
from nsclient_common.layout import is_upload_key
from nsclient_common.observability import count_run_started, for_function
from nsclient_common.runid import execution_arn, run_id_for_upload
from nsclient_common.settings import Settings, current_settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from types_boto3_stepfunctions import SFNClient

observability = for_function("StartRun")
logger, tracer = observability.logger, observability.tracer


class StartResult(BaseModel):
    run_id: str | None
    started: bool
    reason: str


def execution_input(
    detail: S3EventNotificationEventBridgeDetailModel, run_id: str, state_machine_arn: str
) -> ExecutionInput:
    """The execution's input, a function of the object alone (start_run adds the delivery id)."""
    obj = detail.object
    upload = Upload(
        bucket=detail.bucket.name,
        key=obj.key,
        version_id=obj.version_id,
        size=int(obj.size or 0),
        requester=detail.requester,
    )
    return ExecutionInput(run_id=run_id, execution_arn=execution_arn(state_machine_arn, run_id), upload=upload)


def start_run(
    detail: S3EventNotificationEventBridgeDetailModel,
    settings: Settings,
    sfn: SFNClient,
    delivery_id: str | None = None,
) -> StartResult:
    key = detail.object.key
    if detail.bucket.name != settings.bucket or not is_upload_key(key):
        return StartResult(run_id=None, started=False, reason=f"not an upload: s3://{detail.bucket.name}/{key}")
    run_id = run_id_for_upload(key, detail.object.version_id, detail.object.sequencer)
    # StartExecution repeating a RUNNING execution's name *and input* returns that execution as if it had
    # started it. A delivery id of its own in each input makes every delivery but the one that started the
    # run hear ExecutionAlreadyExists, so `started` is true exactly once, even for concurrent deliveries.
    execution = execution_input(detail, run_id, settings.state_machine_arn)
    execution.delivery_id = delivery_id or uuid.uuid4().hex
    payload = execution.start_json()
    try:
        sfn.start_execution(stateMachineArn=settings.state_machine_arn, name=run_id, input=payload)
    except sfn.exceptions.ExecutionAlreadyExists:
        return StartResult(run_id=run_id, started=False, reason="duplicate delivery: the run exists already")
    return StartResult(run_id=run_id, started=True, reason="started")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    detail = parse(event=event, model=S3EventNotificationEventBridgeModel).detail
    result = start_run(detail, current_settings(), client("stepfunctions"))
    logger.info("start run", extra=result.model_dump())
    if result.started:
        count_run_started()
    return result.model_dump(mode="json")
