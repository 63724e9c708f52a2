"""Where people read nsclient's output: rich consoles on stderr (messages, progress) and stdout (results).

rich turns colour and live redraws off by itself when the stream is not a terminal or NO_COLOR is
set; then nothing is wrapped to a guessed width either, so a pipe gets whole plain lines.
"""

from __future__ import annotations

import sys

from rich.console import Console

_UNWRAPPED_WIDTH = 10_000


def make_console(*, stderr: bool) -> Console:
    console = Console(stderr=stderr, highlight=False, soft_wrap=True)
    if not console.is_terminal:
        console = Console(stderr=stderr, highlight=False, soft_wrap=True, width=_UNWRAPPED_WIDTH)
    return console


def render_plain(console: Console, renderable: object) -> str:
    """What the console would print, each line without trailing blanks (tables pad their last column)."""
    with console.capture() as captured:
        console.print(renderable)
    return "\n".join(line.rstrip() for line in captured.get().splitlines())


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty()
