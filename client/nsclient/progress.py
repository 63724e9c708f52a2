"""Transfer progress: a rich bar with bytes, rate and time left on a terminal, a few plain lines otherwise."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from rich.progress import (
    BarColumn,
    DownloadColumn,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.progress import Progress as Bar

from nsclient.console import make_console
from nsclient_common.display import size

if TYPE_CHECKING:
    from rich.console import Console

PLAIN_STEPS_FROM_BYTES = 8 * 1000 * 1000


class Progress:
    """Bytes moved of a known total; update() may be called from any thread."""

    def __init__(self, label: str, total: int, *, quiet: bool = False, console: Console | None = None):
        self.label, self.total, self.quiet = label, max(total, 0), quiet
        self.done = 0
        self._lock = threading.Lock()
        self._bar: Bar | None = None
        self._console = console
        if quiet:
            return
        self._console = self._console or make_console(stderr=True)
        if self._console.is_terminal:
            self._bar = Bar(
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn(binary_units=True),  # KiB, MiB as display.size shows them
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=self._console,
            )
            self._task = self._bar.add_task(label, total=self.total)
            self._bar.start()
        # Plain lines at every quarter only for transfers long enough to want them.
        self._next_plain_step = 25 if self.total >= PLAIN_STEPS_FROM_BYTES else 101

    def expect(self, amount: int) -> None:
        """More bytes to move than counted so far (the total is still being counted, as a walk goes on)."""
        with self._lock:
            self.total += amount
            if self._bar is not None:
                self._bar.update(self._task, total=self.total)

    def counted(self) -> None:
        """The total is complete: plain lines at each quarter, if it is large enough to want them."""
        with self._lock:
            if self._bar is None and not self.quiet and self._next_plain_step == 101:
                self._next_plain_step = 25 if self.total >= PLAIN_STEPS_FROM_BYTES else 101

    def update(self, amount: int) -> None:
        with self._lock:
            self.done += amount
            if self.quiet:
                return
            if self._bar is not None:
                self._bar.update(self._task, completed=self.done)
                return
            percent = 100 * self.done // self.total if self.total else 100
            while percent >= self._next_plain_step and self._next_plain_step <= 100:
                self._plain(f"{self.label}: {self._next_plain_step}% of {size(self.total)}")
                self._next_plain_step += 25

    def _plain(self, line: str) -> None:
        assert self._console is not None
        self._console.print(line, markup=False)

    def finish(self) -> None:
        if self.quiet:
            return
        if self._bar is not None:
            self._bar.update(self._task, completed=self.done)
            self._bar.stop()
        elif self._next_plain_step > 100 and self.total < PLAIN_STEPS_FROM_BYTES:
            self._plain(f"{self.label}: done, {size(self.total)}")
