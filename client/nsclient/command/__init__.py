"""The subcommands, in help order."""

from __future__ import annotations

from nsclient.command import (
    cancel,
    completion,
    config,
    demo,
    list,
    local,
    logs,
    pull,
    push,
    report,
    setup,
    status,
    subscribe,
    unsubscribe,
    view,
)

COMMANDS = [
    push,
    status,
    list,
    logs,
    pull,
    report,
    view,
    cancel,
    subscribe,
    unsubscribe,
    demo,
    local,
    setup,
    config,
    completion,
]
