"""Email me the notices of my own runs: the runs pushed with my address as --notify (or
`[nsclient] notify`).

AWS first emails a confirmation link; nothing arrives until it is followed. A subscription without
a filter (the stack's NoticeEmail, a team list) gets every run's notice.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from nsclient.backend import connect
from nsclient.command.common import add_parser, info
from nsclient.subscriptions import PENDING, subscribe

if TYPE_CHECKING:
    import argparse

EXAMPLES = """
  nsclient subscribe me@example.org
"""


def register_parser(subparsers: Any, parent: argparse.ArgumentParser) -> None:
    parser = add_parser(subparsers, sys.modules[__name__], parent, EXAMPLES)
    parser.add_argument("email", metavar="<email>", help="The address to receive its own runs' notices")


def run(opts: argparse.Namespace) -> int:
    arn = subscribe(connect(opts.backend), opts.email)
    if arn == PENDING:
        info(
            f"AWS has emailed {opts.email} a confirmation link (from AWS Notifications): follow it, or no notice "
            f"arrives. Then runs pushed with --notify {opts.email} are emailed there.",
            opts.quiet,
        )
    else:
        info(f"Subscribed {opts.email} to its own runs' notices ({arn}).", opts.quiet)
    return 0
