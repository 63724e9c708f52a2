"""Where people read nsclient's output: rich consoles on stderr (messages, progress) and stdout (results).

rich turns colour and live redraws off by itself when the stream is not a terminal or NO_COLOR is
set; then nothing is wrapped to a guessed width either, so a pipe gets whole plain lines.
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.console import Console
from rich.text import Text

_UNWRAPPED_WIDTH = 10_000


def make_console(*, stderr: bool) -> Console:
    console = Console(stderr=stderr, highlight=False, soft_wrap=True)
    if not console.is_terminal:
        console = Console(stderr=stderr, highlight=False, soft_wrap=True, width=_UNWRAPPED_WIDTH)
    return console


def print_columns(console: Console, header: list[str], rows: list[list[tuple[str, str | None]]]) -> None:
    """Rows of (text, style) cells in columns two spaces apart, the header bold, as a borderless rich Table
    prints them, in time proportional to the cells: a Table measures every cell through its renderables,
    which takes seconds for thousands of rows. Styles only on a terminal; each line without trailing blanks."""
    heading: list[tuple[str, str | None]] = [(name, "bold") for name in header]
    lines = [heading, *rows]
    widths = [max(cell_len(line[i][0]) for line in lines) for i in range(len(header))]

    def padded(line: list[tuple[str, str | None]]) -> list[tuple[str, str | None]]:
        cells = [
            (text + " " * (width - cell_len(text)), style) for (text, style), width in zip(line, widths, strict=True)
        ]
        cells[-1] = (cells[-1][0].rstrip(), cells[-1][1])
        return cells

    if not console.is_terminal:
        print("\n".join("  ".join(text for text, _ in padded(line)).rstrip() for line in lines), file=console.file)
        return
    shown = Text()
    for line in lines:
        for number, (text, style) in enumerate(padded(line)):
            shown.append("  " if number else "")
            shown.append(text, style=style)
        shown.append("\n")
    console.print(shown, end="", crop=False, soft_wrap=True)
