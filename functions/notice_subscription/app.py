"""NoticeSubscription: a person's request to have their runs' notices emailed to an address, or to stop.

The request is the object inbox/<owner>/<email>.subscribe (or .unsubscribe). IAM lets a person write only
into their own inbox folder, so the folder is who asks, and people hold no SNS permission at all: they
cannot list the topic's subscribers, subscribe without a filter (every run's notice), or remove anyone's
subscription. This function subscribes the address with a filter policy on the notices' `owner`
attribute, the run's folder (never on anything an uploader sets), and removes only subscriptions whose
filter policy is the asker's own, so the team channel (no filter) and teammates' stay as they are.
What it did is written to runs/<owner>/notices/<email>.json, which the asker's client reads back.
Output: owner, email, state, reason.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import (
    S3EventNotificationEventBridgeDetailModel,
    S3EventNotificationEventBridgeModel,
)

from nsclient_common.aws import client
from nsclient_common.delivery import owner_filter_policy
from nsclient_common.layout import subscription_key, subscription_request
from nsclient_common.observability import for_function
from nsclient_common.request import InvalidRequest, validate_email
from nsclient_common.settings import Settings, current_settings
from nsclient_common.subscription import SubscriptionOutcome, SubscriptionState

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from types_boto3_s3 import S3Client
    from types_boto3_sns import SNSClient

observability = for_function("NoticeSubscription")
logger, tracer = observability.logger, observability.tracer


def subscribe(sns: SNSClient, settings: Settings, owner: str, email: str) -> SubscriptionOutcome:
    response = sns.subscribe(
        TopicArn=settings.topic_arn,
        Protocol="email",
        Endpoint=email,
        Attributes={"FilterPolicy": owner_filter_policy(owner), "FilterPolicyScope": "MessageAttributes"},
        ReturnSubscriptionArn=True,
    )
    arn = str(response["SubscriptionArn"])
    confirmed = _is_confirmed(sns, arn)
    state = SubscriptionState.SUBSCRIBED if confirmed else SubscriptionState.PENDING
    return SubscriptionOutcome(email=email, state=state, subscription_arn=arn)


def _is_confirmed(sns: SNSClient, arn: str) -> bool:
    if not arn.startswith("arn:"):
        return False
    attributes = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
    return attributes.get("PendingConfirmation", "false") != "true"


def unsubscribe(sns: SNSClient, settings: Settings, owner: str, email: str) -> SubscriptionOutcome:
    """Remove the address's subscriptions that are the asker's own: filtered on their runs, and nothing else."""
    own = json.loads(owner_filter_policy(owner))
    removed = 0
    for page in sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=settings.topic_arn):
        for subscription in page["Subscriptions"]:
            arn = subscription["SubscriptionArn"]
            if subscription["Endpoint"].lower() != email.lower() or not arn.startswith("arn:"):
                continue  # another address, or still pending confirmation (it lapses unconfirmed)
            attributes = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
            if json.loads(attributes.get("FilterPolicy") or "null") == own:
                sns.unsubscribe(SubscriptionArn=arn)
                removed += 1
    if not removed:
        return SubscriptionOutcome(
            email=email, state=SubscriptionState.NONE, reason="no confirmed subscription of yours to remove"
        )
    return SubscriptionOutcome(email=email, state=SubscriptionState.UNSUBSCRIBED)


def handle(
    detail: S3EventNotificationEventBridgeDetailModel, settings: Settings, *, sns: SNSClient, s3: S3Client
) -> SubscriptionOutcome | None:
    request = subscription_request(detail.object.key) if detail.bucket.name == settings.bucket else None
    if request is None:
        return None
    owner, address, wanted = request
    try:
        email = validate_email(address)
    except InvalidRequest as error:
        outcome = SubscriptionOutcome(email=address, state=SubscriptionState.REFUSED, reason=str(error))
    else:
        outcome = (subscribe if wanted else unsubscribe)(sns, settings, owner, email)
    outcome.request_version = detail.object.version_id
    s3.put_object(
        Bucket=settings.bucket,
        Key=subscription_key(outcome.email, owner),
        Body=outcome.model_dump_json(indent=2).encode(),
        ContentType="application/json",
    )
    return outcome


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    detail = parse(event=event, model=S3EventNotificationEventBridgeModel).detail
    outcome = handle(detail, current_settings(), sns=client("sns"), s3=client("s3"))
    result = outcome.model_dump(mode="json") if outcome else {"state": "ignored", "key": detail.object.key}
    logger.info("notice subscription request", extra=result)
    return result
