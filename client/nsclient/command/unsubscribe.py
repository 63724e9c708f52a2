"""Stop emailing an address its runs' notices (a subscription still pending confirmation cannot be
removed: it lapses after three days unless confirmed)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from nsclient.backend import connect
from nsclient.command.common import add_parser, info
from nsclient.subscriptions import unsubscribe

if TYPE_CHECKING:
    import argparse

EXAMPLES = """
  nsclient unsubscribe me@example.org
"""


def register_parser(subparsers: Any, parent: argparse.ArgumentParser) -> None:
    parser = add_parser(subparsers, sys.modules[__name__], parent, EXAMPLES)
    parser.add_argument("email", metavar="<email>", help="The address to stop emailing")


def run(opts: argparse.Namespace) -> int:
    removed = unsubscribe(connect(opts.backend), opts.email)
    message = (
        f"Unsubscribed {opts.email}."
        if removed
        else f"{opts.email} has no confirmed subscription to the notice topic; nothing to remove."
    )
    info(message, opts.quiet)
    return 0
