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
    setup,
    status,
)

COMMANDS = [push, status, list, logs, pull, cancel, demo, local, setup, config, completion]
