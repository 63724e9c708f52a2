"""How a run's facts read to people, the same in the CLI, the notice and the report: how long something
took, how much memory, a status with its failure class, and the build's name."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nsclient_common.record import parse_iso
from nsclient_common.runid import build_name

if TYPE_CHECKING:
    from nsclient_common.record import RunRecord, RunStatus

_MINUTE, _HOUR, _DAY = 60, 3600, 86400
_SIZE_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")
MIB = 1024**2


def duration(seconds: float) -> str:
    """'0s', '59s', '1m 00s', '1h 02m', '2d 03h': the two largest units, the second zero-padded so that
    columns of them line up; a negative span (clocks apart) reads as 0s."""
    total = max(0, round(seconds))
    days, rest = divmod(total, _DAY)
    hours, rest = divmod(rest, _HOUR)
    minutes, secs = divmod(rest, _MINUTE)
    if days:
        return f"{days}d {hours:02d}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


def duration_between(start: str | None, end: str | None) -> str | None:
    """duration() between two record times (ISO 8601), or None when either is unknown."""
    if not start or not end:
        return None
    return duration((parse_iso(end) - parse_iso(start)).total_seconds())


def size(n_bytes: float) -> str:
    """'0 B', '512 B', '1.5 KiB', '14 GiB', '3.1 GiB': binary units, at most one decimal, none when whole."""
    value, unit = float(max(0.0, n_bytes)), 0
    # Compared once rounded, so 1023.96 KiB reads as 1 MiB rather than 1024 KiB.
    while round(value, 1) >= 1024 and unit < len(_SIZE_UNITS) - 1:
        value, unit = value / 1024, unit + 1
    if unit == 0:
        return f"{int(value)} B"
    return f"{value:.1f}".removesuffix(".0") + f" {_SIZE_UNITS[unit]}"


def memory_mib(mib: float) -> str:
    """A memory quantity held in MiB (as runs ask for it), as size() shows it: '512 MiB', '14 GiB'."""
    return size(mib * MIB)


def status_label(status: RunStatus, failure_class: str | None) -> str:
    """A run's status as people read it: with its failure class when that says more (FAILED (exit-code)),
    without when it only repeats the status (CANCELLED, not CANCELLED (cancelled))."""
    if failure_class is None or failure_class.upper() == status.value:
        return status.value
    return f"{status.value} ({failure_class})"


def build_name_of(record: RunRecord) -> str:
    """The build's name: the pushed folder's (or the dropped zip's), also for a run rejected before it had one."""
    return record.build_name or (build_name(record.upload.key) if record.upload else record.run_id)
