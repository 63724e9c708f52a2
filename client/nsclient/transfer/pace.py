"""Which deflate level gets a build up sooner, chosen chunk by chunk from rates measured as the upload goes.

A level moves at most as many raw bytes a second as its compressors make (each worker's measured speed
times the workers) and at most as many as the link carries at its ratio (the link's bytes a second over
the compressed bytes per raw byte). On a slow link the dense level wins whenever the CPU keeps it ahead
of the link; on a fast one (or loopback) the fast level does, as the CPU is then what is slow.

The link's rate is what the connections took over the last seconds, trusted as the link's capacity only
while more than a part waited to be sent (else the writer, not the link, set it). Until the link has been
measured, a pile of unsent bytes alone calls for the dense level, so a slow link never waits on a long run
of fast chunks. A level not in use is measured again every few seconds (one chunk), as the build's
content changes: dense compression that costs much and saves little on small tables may save ten times
more on the sequences that follow. A switch needs the other level to be clearly better (HYSTERESIS), so
estimates that move a little never make the choice flip back and forth.
"""

from __future__ import annotations

import collections
import math
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

# Unsent bytes beyond which the link is taken to lag (more than a part is waiting for it).
LAGGING = 8 * 1024 * 1024
# How far back the link's rate is measured, and the least span it is measured over (TCP's slow start
# on new connections is mostly over within a quarter second at 40 ms round trips).
WINDOW = 3.0
MIN_SPAN = 0.5
# How much faster the other level must be modelled to move the build before it is chosen.
HYSTERESIS = 0.25
# How old a level's figures get, when it is not in use, before one chunk measures it again: the dense
# level's often (a chunk of it costs little CPU, and new content can make it pay), the fast level's
# seldom (on a slow link a fast chunk costs ten times the link's time of a dense one).
REMEASURE = {True: 1.0, False: 5.0}
# Raw bytes after which a level's earlier figures weigh a third as much as its recent ones: one large
# chunk moves them, a small file hardly does (its cost is mostly opening it, whatever the level).
MEMORY_BYTES = 2 * 1024 * 1024
# Raw bytes a level must have compressed before its figures are trusted.
MEASURED_BYTES = 64 * 1024


@dataclass
class Rates:
    """A level's measured compression, recent bytes weighing most."""

    raw: float = 0.0
    out: float = 0.0
    seconds: float = 0.0
    measured_at: float = -math.inf

    @property
    def measured(self) -> bool:
        return self.raw >= MEASURED_BYTES and self.seconds > 0

    @property
    def speed(self) -> float:
        """Raw bytes a second of one worker."""
        return self.raw / self.seconds

    @property
    def ratio(self) -> float:
        """Compressed bytes per raw byte."""
        return self.out / self.raw

    def add(self, raw: int, out: int, seconds: float, now: float) -> None:
        keep = math.exp(-raw / MEMORY_BYTES)
        self.raw, self.out = self.raw * keep + raw, self.out * keep + out
        self.seconds = self.seconds * keep + max(seconds, 1e-9)
        self.measured_at = now


def throughput(rates: Rates, workers: int, link: float | None) -> float:
    """Raw bytes a second a level moves: what its compressors make, or what the link carries at its ratio."""
    cpu = workers * rates.speed
    return cpu if link is None else min(cpu, link / max(rates.ratio, 1e-9))


def choose_dense(dense: bool, fast: Rates, slow: Rates, workers: int, link: float | None, lagging: bool) -> bool:
    """The level to keep (True: dense), given the one in use (`dense`), each level's figures (`fast`, `slow`),
    the link's capacity in bytes a second (None: not measured yet) and whether unsent bytes pile up."""
    if link is None:
        return lagging
    if not fast.measured or not slow.measured:
        return dense  # until a chunk has measured the other level on this content
    current, other = (slow, fast) if dense else (fast, slow)
    switch = throughput(other, workers, link) > (1 + HYSTERESIS) * throughput(current, workers, link)
    return dense != switch


@dataclass
class Pace:
    """The level for each chunk, from the upload's pace (`sent`, `unsent`) and the compressors' figures.

    Without `sent` and `unsent` (a zip written to a file: nothing waits on a link) every chunk is fast."""

    workers: int = 1
    sent: Callable[[], int] | None = None  # bytes the link has taken so far
    unsent: Callable[[], int] | None = None  # bytes ready for it that it has not taken yet
    clock: Callable[[], float] = time.monotonic
    dense: bool = False  # the level kept, which chunks go through but for one now and then measuring the other
    fast_rates: Rates = field(default_factory=Rates)
    dense_rates: Rates = field(default_factory=Rates)
    link: float | None = None  # the link's capacity, bytes a second
    _measuring: bool | None = None  # the level a chunk is measuring, not the one kept (True: dense)
    _last: tuple[float, int, bool] | None = None  # when the link was last looked at, what it had taken, lagging
    # (end, seconds, bytes taken, lagging) between looks, and their sums: seconds, taken, both while lagging.
    _intervals: collections.deque[tuple[float, float, int, bool]] = field(default_factory=collections.deque)
    _sums: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def compressed(self, dense: bool, raw: int, out: int, seconds: float) -> None:
        with self._lock:
            if dense == self._measuring:
                self._measuring = None
            if raw > 0:
                (self.dense_rates if dense else self.fast_rates).add(raw, out, seconds, self.clock())

    def _measure_link(self, now: float, lagging: bool) -> None:
        """The link's capacity: what it took while bytes waited for it, over the last WINDOW seconds; and at
        least what it took meanwhile (a link that sped up while the compressors set the pace shows so)."""
        assert self.sent is not None
        sent = self.sent()
        if self._last is not None and now > self._last[0]:
            then, before, was_lagging = self._last
            interval = (now, now - then, sent - before, was_lagging)
            self._intervals.append(interval)
            self._add(interval, 1)
        self._last = (now, sent, lagging)
        while self._intervals and self._intervals[0][0] < now - WINDOW:
            self._add(self._intervals.popleft(), -1)
        seconds, taken, lagged_seconds, lagged_taken = self._sums
        if lagged_seconds >= MIN_SPAN:
            self.link = lagged_taken / lagged_seconds
        if seconds >= MIN_SPAN and self.link is not None:
            self.link = max(self.link, taken / seconds)

    def _add(self, interval: tuple[float, float, int, bool], sign: int) -> None:
        # The window's sums, kept as it moves (a build of thousands of small files asks for each of them).
        _, seconds, taken, lagging = interval
        total_seconds, total_taken, lagged_seconds, lagged_taken = self._sums
        self._sums = (
            total_seconds + sign * seconds,
            total_taken + sign * taken,
            lagged_seconds + sign * seconds * lagging,
            lagged_taken + sign * taken * lagging,
        )

    def next_dense(self) -> bool:
        """Whether the next chunk is to be compressed densely."""
        if self.sent is None or self.unsent is None:
            return False
        with self._lock:
            now = self.clock()
            lagging = self.unsent() > LAGGING
            self._measure_link(now, lagging)
            self.dense = choose_dense(self.dense, self.fast_rates, self.dense_rates, self.workers, self.link, lagging)
            other = not self.dense
            figures = self.dense_rates if other else self.fast_rates
            stale = figures.measured and figures.measured_at < now - REMEASURE[other]
            if self._measuring is None and (stale or not figures.measured):
                if stale:  # figures this old are of other content: measured afresh, a chunk at a time
                    fresh = Rates(measured_at=now)
                    self.dense_rates, self.fast_rates = (fresh, self.fast_rates) if other else (self.dense_rates, fresh)
                self._measuring = other
                return other
            return self.dense
