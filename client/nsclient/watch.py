"""Following a run to its end: its log as it is written, its state as it moves, and on a terminal a live
view of the build's progress (steps done of the total, the rules running now, time elapsed).

Used by `push --wait`, `logs --follow` and `demo` alike. Not on a terminal, the view is plain lines: each
change of state once, then the outcome.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, TextIO

from rich.console import Group
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from nsclient.console import make_console
from nsclient.runs.jobs import await_run
from nsclient.runs.logs import log_lines
from nsclient.show import duration, status_style
from nsclient_common import display
from nsclient_common.display import status_label
from nsclient_common.record import RunRecord, RunStatus, parse_iso
from nsclient_common.snakeprogress import SnakemakeProgress

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

    from nsclient.backend import Backend


def outcome_line(record: RunRecord) -> Text:
    """The one line that says how a run ended (or where it is)."""
    text = Text(f"Run {record.run_id} ")
    label = status_label(record.status, record.failure_class)
    text.append(record.status.value, style=status_style(record.status))
    text.append(label.removeprefix(record.status.value))  # the failure class, when it says more
    if record.status.is_final and record.started_at:
        text.append(f" after {duration(record)}")
    if record.exit_code not in (None, 0):
        text.append(f", exit code {record.exit_code}")
    if record.failed_rule:
        text.append(f", in rule {record.failed_rule}")
    text.append(".")
    return text


class WaitView:
    """What a person sees while a run goes on. A live view on a terminal, else a line per change of state;
    nothing but the outcome when quiet."""

    def __init__(self, run_id: str, *, quiet: bool, console: Console | None = None):
        self.run_id, self.quiet = run_id, quiet
        self.console = console or make_console(stderr=True)
        self.progress = SnakemakeProgress()
        self.record: RunRecord | None = None
        self._shown: RunStatus | None = None
        self._live: Live | None = None
        self._submitted: float | None = None  # the earliest the run is known to have been submitted

    def __enter__(self) -> WaitView:
        if not self.quiet and self.console.is_terminal:
            self._live = Live(self, console=self.console, refresh_per_second=4, transient=True, redirect_stdout=False)
            self._live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def on_update(self, record: RunRecord) -> None:
        self.record = record
        # A run not yet prepared is shown from when it was pushed, which its record later puts a moment after.
        submitted = parse_iso(record.submitted_at).timestamp()
        self._submitted = submitted if self._submitted is None else min(self._submitted, submitted)
        if record.status == self._shown:
            return
        self._shown = record.status
        if self._live is None and not self.quiet and not record.status.is_final:
            line = Text(f"Run {self.run_id} is ")
            line.append(record.status.value, style=status_style(record.status))
            self.console.print(line.append("."))

    def log_line(self, line: str, stream: TextIO) -> None:
        self.progress.feed(line)
        if self.quiet:
            return
        if self._live is not None and stream.isatty():  # above the live view, on the same terminal
            self._live.console.print(line, markup=False, highlight=False, soft_wrap=True)
        else:  # redirected: the log goes where it was sent, whole
            print(line, file=stream, flush=True)

    def __rich__(self) -> RenderableType:
        record = self.record
        status = record.status if record else RunStatus.SUBMITTED
        grid = Table.grid(padding=(0, 2))
        cells: list[RenderableType] = [Text(status.value, style=status_style(status))]
        total, done = self.progress.total, self.progress.done
        if total:
            cells += [ProgressBar(total=total, completed=done, width=30), Text(f"{done} of {total} steps")]
        if self.progress.running:
            cells.append(Text("running " + ", ".join(self.progress.running), style="cyan"))
        if self._submitted is not None:
            cells.append(Text(display.duration(time.time() - self._submitted), style="dim"))
        grid.add_row(*cells)
        return Group(Text(f"Run {self.run_id}", style="bold"), grid)


def exit_code_of(record: RunRecord) -> int:
    """A finished run's exit code, for a command that waited for it: the build's own."""
    if record.status == RunStatus.SUCCEEDED:
        return 0
    return record.exit_code or 1


def follow(
    backend: Backend,
    run_id: str,
    *,
    quiet: bool,
    log_stream: TextIO,
    poll: float = 1.0,
    show_outcome: bool = True,
) -> RunRecord:
    """Show the run's log and state until it ends, then the outcome line (when quiet, that line alone); the
    final record."""
    state = await_run(backend, run_id)
    view = WaitView(run_id, quiet=quiet)
    with view:
        for line in log_lines(state, follow=True, poll=poll, on_update=view.on_update):
            view.log_line(line, log_stream)
    assert state.record is not None  # log_lines ends once the run is final
    if show_outcome:
        view.console.print(outcome_line(state.record))
    return state.record
