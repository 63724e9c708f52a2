"""Cancelling a run: a person asks the backend; an admin stopping someone else's run stops its execution."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nsclient.errors import UserError
from nsclient.pushes import pushed_directory
from nsclient.runs.jobs import status
from nsclient_common.failure import CANCEL_REASON
from nsclient_common.layout import cancel_request_key

if TYPE_CHECKING:
    from nsclient.backend import Backend


def cancel(backend: Backend, run_id: str) -> list[str]:
    """Cancel a run. A person asks the backend, with a request object in their own inbox folder: the
    backend checks the run is theirs and stops its execution (then ReconcileRun terminates the job,
    records CANCELLED and notifies), so people need no Step Functions or Batch permissions. An admin
    cancelling someone else's run stops the execution itself."""
    record = status(backend, run_id)
    if record.status.is_final:
        raise UserError(f"Run {run_id} already ended {record.status.value}; there is nothing to cancel.")
    me = backend.caller_id()
    if record.owner == me or (record.owner is None and pushed_directory(run_id) is not None):
        backend.client("s3").put_object(Bucket=backend.bucket, Key=cancel_request_key(run_id, me), Body=b"")
        return ["asked the backend to stop it; it terminates the Batch job"]
    sfn = backend.client("stepfunctions")
    try:
        sfn.stop_execution(executionArn=backend.execution_arn(run_id), error="Cancelled", cause=CANCEL_REASON)
    except sfn.exceptions.ExecutionDoesNotExist:
        return []
    return ["stopped the execution; the backend terminates its Batch job"]
