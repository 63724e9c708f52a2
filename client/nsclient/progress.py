"""Transfer progress: a bar with bytes, rate and ETA on a terminal, a few plain lines otherwise."""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

PLAIN_STEPS_FROM_BYTES = 8 * 1000 * 1000


def human_bytes(count: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(count) < 1000 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1000
    return f"{count:.1f} TB"


class Progress:
    def __init__(self, label: str, total: int, *, quiet: bool = False, stream: TextIO | None = None):
        self.label, self.total, self.quiet = label, max(total, 0), quiet
        self.stream = stream or sys.stderr
        self.done = 0
        self.started = time.monotonic()
        self._tty = self.stream.isatty()
        # Plain lines at every quarter only for transfers long enough to want them.
        self._next_plain_step = 25 if self.total >= PLAIN_STEPS_FROM_BYTES else 101
        self._last_draw = 0.0
        self._lock = threading.Lock()

    def update(self, amount: int) -> None:
        with self._lock:
            self.done += amount
            if self.quiet:
                return
            if self._tty:
                now = time.monotonic()
                if now - self._last_draw > 0.1 or self.done >= self.total:
                    self._last_draw = now
                    self._draw()
            else:
                percent = 100 * self.done // self.total if self.total else 100
                while percent >= self._next_plain_step and self._next_plain_step <= 100:
                    print(f"{self.label}: {self._next_plain_step}% of {human_bytes(self.total)}", file=self.stream)
                    self._next_plain_step += 25

    def _draw(self) -> None:
        elapsed = max(time.monotonic() - self.started, 1e-6)
        rate = self.done / elapsed
        fraction = self.done / self.total if self.total else 1.0
        width = 24
        bar = "#" * int(width * fraction) + "-" * (width - int(width * fraction))
        eta = (self.total - self.done) / rate if rate > 0 else 0
        self.stream.write(
            f"\r{self.label} [{bar}] {fraction:4.0%} {human_bytes(self.done)}/{human_bytes(self.total)} "
            f"{human_bytes(rate)}/s ETA {eta:3.0f}s "
        )
        self.stream.flush()

    def finish(self) -> None:
        if self.quiet:
            return
        if self._tty:
            self._draw()
            self.stream.write("\n")
        elif self._next_plain_step > 100 and self.total < PLAIN_STEPS_FROM_BYTES:
            print(f"{self.label}: done, {human_bytes(self.total)}", file=self.stream)
        self.stream.flush()
