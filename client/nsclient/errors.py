"""Errors a person can act on. Each becomes one clear message and an exit code, never a traceback."""

from __future__ import annotations

from textwrap import dedent

EXIT_USER_ERROR = 1
EXIT_NOT_FOUND = 3
EXIT_SOFTWARE = 70  # a bug in nsclient (sysexits EX_SOFTWARE)
EXIT_INTERRUPTED = 130


class UserError(Exception):
    exit_code = EXIT_USER_ERROR

    def __init__(self, message: str):
        super().__init__(dedent(message).strip())


class RunNotFoundError(UserError):
    exit_code = EXIT_NOT_FOUND

    def __init__(self, run_id: str):
        super().__init__(
            f"No run {run_id!r} in this backend. `nsclient list --all` shows the runs there are; "
            "check --backend if the run was pushed elsewhere."
        )
