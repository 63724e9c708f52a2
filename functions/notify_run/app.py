"""NotifyRun: send the run's notice, once.

State input: notice (run_id, status, failure_class, subject, body, to).
Output: sent (false when this run's notice had been sent already) and email (null when none was due;
else to, delivered and, when SES refused it, error_code and error_message).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nsclient_common.aws import client
from nsclient_common.execution import NotifyInput
from nsclient_common.observability import for_function
from nsclient_common.settings import current_settings
from nsclient_common.wrapup import send_notice

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

observability = for_function("NotifyRun")
logger, tracer = observability.logger, observability.tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    notice = NotifyInput.model_validate(event).notice
    logger.append_keys(run_id=notice.run_id)
    settings = current_settings()
    ses = client("ses") if settings.notify_from else None
    delivery = send_notice(notice, settings, s3=client("s3"), sns=client("sns"), ses=ses, logger=logger)
    logger.info("notice", extra={"sent": delivery.sent, "subject": notice.subject})
    return delivery.model_dump(mode="json")
