"""The environment a function invocation reads its settings from.

On Lambda it is the process's own (os.environ). The local backend runs every function's handlers in
one process, so it gives each invocation its function's environment through a context variable
instead of rewriting os.environ under invocations running at the same time.
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

INVOCATION_ENVIRONMENT: ContextVar[Mapping[str, str] | None] = ContextVar("invocation_environment", default=None)


def function_environment() -> Mapping[str, str]:
    """The running function's environment variables."""
    given = INVOCATION_ENVIRONMENT.get()
    return os.environ if given is None else given
