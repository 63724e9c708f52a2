"""Stop emailing an address the notices of my runs (a subscription still pending confirmation cannot be
removed: it lapses after three days unless confirmed). Subscriptions made by others, the team channel
among them, are never touched."""

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
  nsclient unsubscribe me@example.org
"""


def register_parser(subparsers: Any, parent: argparse.ArgumentParser) -> None:
    parser = add_parser(subparsers, sys.modules[__name__], parent, EXAMPLES)
    parser.add_argument("email", metavar="<email>", help="The address to stop emailing")


def run(opts: argparse.Namespace) -> int:
    outcome = request(connect(opts.backend), opts.email, subscribe=False)
    if outcome.state == SubscriptionState.UNSUBSCRIBED:
        info(f"Unsubscribed {outcome.email}.", opts.quiet)
    elif outcome.state == SubscriptionState.NONE:
        info(f"{outcome.email} has no confirmed subscription to your runs' notices; nothing to remove.", opts.quiet)
    else:
        raise UserError(f"The backend refused to unsubscribe {outcome.email}: {outcome.reason}.")
    return 0
