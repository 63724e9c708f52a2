"""A build's request checked against the deployment's limits before anything is uploaded.

The rule is the backend's own (nsclient_common.request.parse_request with the deployment's Limits), so
the client refuses exactly what PrepareRun would reject, only sooner: nothing is uploaded, no run is made.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nsclient.errors import UserError
from nsclient_common.request import InvalidRequest, notify_refusal, parse_request

if TYPE_CHECKING:
    from nsclient_common.request import BuildRequest
    from nsclient_common.settings import Limits


def check_within(request: BuildRequest, limits: Limits | None) -> None:
    """Raise a UserError if the deployment would reject this request; a deployment that publishes no
    limits is left to judge for itself."""
    if limits is None:
        return
    try:
        parse_request(request.to_metadata(), limits)
    except InvalidRequest as error:
        raise UserError(f"Nothing was uploaded: {error}.") from None
    if limits.notify_allowed is not None:
        refused = notify_refusal(request.notify, limits.notify_allowed)
        if refused:
            raise UserError(f"Nothing was uploaded: {refused}.")
