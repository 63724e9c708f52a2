"""A reader that stops early (`nsclient logs RUN | head`) ends the command quietly, as Unix tools end.

Python ignores SIGPIPE and raises BrokenPipeError on the next write to a closed pipe instead. Restoring
SIGPIPE's default action would also kill the process on a closed network socket, so the error is caught
for stdout alone and the command exits as a process killed by SIGPIPE is reported: 128 + 13.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

EXIT_CLOSED_PIPE = 128 + signal.SIGPIPE


def exit_quietly_on_closed_pipe(command: Callable[[], int]) -> int:
    """Run the command and flush its output; a reader gone away is the command's end, not an error."""
    try:
        code = command()
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        # Nothing more can reach the reader; point stdout at /dev/null so the interpreter's own flush at exit
        # does not raise again and print "Exception ignored ...".
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return EXIT_CLOSED_PIPE
