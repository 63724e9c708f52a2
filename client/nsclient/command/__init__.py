"""The subcommands, in help order: each a module of this package, imported only when its parser is needed."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from types import ModuleType

COMMANDS = (
    "push",
    "status",
    "list",
    "logs",
    "pull",
    "report",
    "view",
    "cancel",
    "subscribe",
    "unsubscribe",
    "demo",
    "local",
    "setup",
    "config",
    "completion",
)


def command_module(name: str) -> ModuleType:
    return importlib.import_module(f"{__name__}.{name}")
