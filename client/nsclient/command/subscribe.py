"""Email an address the notices of my own runs.

The backend subscribes it to the stack's notice topic, filtered on my runs (every run I push, whatever
its --notify). AWS first emails a confirmation link; nothing arrives until it is followed. Only admins
change the team channel (every run's notice).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from nsclient.backend import connect
from nsclient.command.common import add_parser, info
from nsclient.errors import UserError
from nsclient.subscriptions import request
from nsclient_common.subscription import SubscriptionState

if TYPE_CHECKING:
    import argparse

EXAMPLES = """
  nsclient subscribe me@example.org
"""


def register_parser(subparsers: Any, parent: argparse.ArgumentParser) -> None:
    parser = add_parser(subparsers, sys.modules[__name__], parent, EXAMPLES)
    parser.add_argument("email", metavar="<email>", help="The address to receive the notices of your own runs")


def run(opts: argparse.Namespace) -> int:
    outcome = request(connect(opts.backend), opts.email, subscribe=True)
    if outcome.state == SubscriptionState.PENDING:
        info(
            f"AWS has emailed {outcome.email} a confirmation link (from AWS Notifications): follow it, or no notice "
            "arrives. Then the notices of your runs are emailed there.",
            opts.quiet,
        )
    elif outcome.state == SubscriptionState.SUBSCRIBED:
        info(f"Subscribed {outcome.email} to the notices of your runs.", opts.quiet)
    else:
        raise UserError(f"The backend refused to subscribe {outcome.email}: {outcome.reason}.")
    return 0
