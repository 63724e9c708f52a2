"""CancelRun: a person's request to cancel one of their runs, the object inbox/<owner>/<run-id>.cancel.

IAM lets a person write only into their own inbox folder, so the folder a request is in is who asks.
The run is theirs if its upload came from that same folder: its execution's input says so (StartRun
wrote it from S3's event, not from anything a person sends). Then the execution is stopped, and
ReconcileRun, reacting to the ABORTED execution, terminates the job, records CANCELLED and notifies.
So people need no Step Functions or Batch permission, and nobody can stop another's run.
Output: run_id, stopped, reason.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from pydantic import BaseModel

from nsclient_common.aws import client
from nsclient_common.failure import CANCEL_REASON
from nsclient_common.layout import cancel_request, owner_of_inbox_key
from nsclient_common.runid import execution_arn, is_run_id
from nsclient_common.settings import Settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()


class RequestObject(BaseModel):
    key: str


class RequestDetail(BaseModel):
    bucket: dict[str, str]
    object: RequestObject


class RequestEvent(BaseModel):
    detail: RequestDetail


class CancelResult(BaseModel):
    run_id: str | None
    stopped: bool
    reason: str


def cancel_run(detail: RequestDetail, settings: Settings, sfn: Any) -> CancelResult:
    request = cancel_request(detail.object.key) if detail.bucket["name"] == settings.bucket else None
    if request is None or not is_run_id(request[1]):
        return CancelResult(run_id=None, stopped=False, reason=f"not a cancel request: {detail.object.key}")
    asker, run_id = request
    arn = execution_arn(settings.state_machine_arn, run_id)
    try:
        described = sfn.describe_execution(executionArn=arn)
    except sfn.exceptions.ExecutionDoesNotExist:
        return CancelResult(run_id=run_id, stopped=False, reason="no such run")
    upload = json.loads(described.get("input") or "{}").get("upload") or {}
    if owner_of_inbox_key(str(upload.get("key", ""))) != asker:
        return CancelResult(run_id=run_id, stopped=False, reason="refused: the run is not the asker's")
    if described["status"] != "RUNNING":
        return CancelResult(run_id=run_id, stopped=False, reason=f"the run's execution is {described['status']}")
    sfn.stop_execution(executionArn=arn, error="Cancelled", cause=CANCEL_REASON)
    return CancelResult(run_id=run_id, stopped=True, reason="stopped")


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    detail = RequestEvent.model_validate(event).detail
    result = cancel_run(detail, Settings.from_env(), client("stepfunctions"))
    logger.info("cancel request", extra=result.model_dump())
    return result.model_dump(mode="json")
