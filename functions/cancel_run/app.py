"""CancelRun: a person's request to cancel one of their runs, the object inbox/<owner>/<run-id>.cancel.

IAM lets a person write only into their own inbox folder, so the folder a request is in is who asks.
The run is theirs if its upload came from that same folder: its execution's input names the owner (StartRun
wrote it from S3's event, not from anything a person sends). Then the execution is stopped, and
ReconcileRun, reacting to the ABORTED execution, terminates the job, records CANCELLED and notifies.
So people need no Step Functions or Batch permission, and nobody can stop another's run.
Output: run_id, stopped, reason.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import (
    S3EventNotificationEventBridgeDetailModel,
    S3EventNotificationEventBridgeModel,
)
from pydantic import BaseModel

from nsclient_common.aws import client
from nsclient_common.execution import ExecutionInput
from nsclient_common.failure import CANCEL_REASON
from nsclient_common.layout import cancel_request
from nsclient_common.observability import for_function
from nsclient_common.runid import execution_arn, is_run_id
from nsclient_common.settings import Settings, current_settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from types_boto3_stepfunctions import SFNClient

observability = for_function("CancelRun")
logger, tracer = observability.logger, observability.tracer


class CancelResult(BaseModel):
    run_id: str | None
    stopped: bool
    reason: str


def cancel_run(detail: S3EventNotificationEventBridgeDetailModel, settings: Settings, sfn: SFNClient) -> CancelResult:
    request = cancel_request(detail.object.key) if detail.bucket.name == settings.bucket else None
    if request is None or not is_run_id(request[1]):
        return CancelResult(run_id=None, stopped=False, reason=f"not a cancel request: {detail.object.key}")
    asker, run_id = request
    arn = execution_arn(settings.state_machine_arn, run_id)
    try:
        described = sfn.describe_execution(executionArn=arn)
    except sfn.exceptions.ExecutionDoesNotExist:
        return CancelResult(run_id=run_id, stopped=False, reason="no such run")
    execution = ExecutionInput.from_json(described.get("input"))
    if execution is None or execution.owner != asker:
        return CancelResult(run_id=run_id, stopped=False, reason="refused: the run is not the asker's")
    if described["status"] != "RUNNING":
        return CancelResult(run_id=run_id, stopped=False, reason=f"the run's execution is {described['status']}")
    sfn.stop_execution(executionArn=arn, error="Cancelled", cause=CANCEL_REASON)
    return CancelResult(run_id=run_id, stopped=True, reason="stopped")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    detail = parse(event=event, model=S3EventNotificationEventBridgeModel).detail
    result = cancel_run(detail, current_settings(), client("stepfunctions"))
    logger.info("cancel request", extra=result.model_dump())
    return result.model_dump(mode="json")
