"""Where the local backend's memory goes: off unless NSCLIENT_LOCAL_MEMORY_PROFILE names a file.

Then, once the backend has started, a report is appended to that file every
NSCLIENT_LOCAL_MEMORY_PROFILE_SECONDS (10): the process's resident set (VmRSS) and its peak (VmHWM),
that resident set by kind of mapping (/proc/self/smaps: malloc's heaps, thread stacks, files), its
threads by name, and, with NSCLIENT_LOCAL_MEMORY_PROFILE_TRACE=1, the source lines holding the most
of what Python allocated since (tracemalloc, one frame: more frames made the backend's memory grow
tenfold and its reports take minutes with fifty runs in flight). The gap between the resident set and
what Python holds is the C allocator's: freed memory its arenas keep, and the threads' stacks.
"""

from __future__ import annotations

import os
import re
import threading
import time
import tracemalloc
from collections import Counter
from pathlib import Path

PROFILE_VARIABLE = "NSCLIENT_LOCAL_MEMORY_PROFILE"
INTERVAL_VARIABLE = "NSCLIENT_LOCAL_MEMORY_PROFILE_SECONDS"
TRACE_VARIABLE = "NSCLIENT_LOCAL_MEMORY_PROFILE_TRACE"
TOP = 20
MAPPING_START = re.compile(r"^[0-9a-f]+-[0-9a-f]+ ")
THREAD_STACK_KB = 8192  # glibc's default thread stack (ulimit -s)
MALLOC_HEAP_KB = 65536  # a glibc arena's heap is at most 64 MB


def status_mb(pid: int | str = "self") -> dict[str, float]:
    """A process's own VmRSS and VmHWM (its peak), in MB, from /proc/<pid>/status; {} once it has gone."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return {}
    fields = (line.split() for line in lines if line.startswith(("VmRSS:", "VmHWM:")))
    return {name.rstrip(":"): int(kb) / 1024 for name, kb, *_ in fields}


def _mapping_kind(name: str, size_kb: int) -> str:
    if name == "[heap]":
        return "main heap (brk)"
    if name.startswith("/"):
        return "files"
    if name:
        return name
    if size_kb == THREAD_STACK_KB:
        return "thread stacks"
    if size_kb <= MALLOC_HEAP_KB:
        return "anonymous up to 64 MB (malloc arenas, Python's obmalloc)"
    return "anonymous over 64 MB"


def resident_by_mapping(pid: int | str = "self") -> dict[str, float]:
    """A process's resident set by kind of mapping, in MB, largest first."""
    resident: Counter[str] = Counter()
    name, size_kb = "", 0
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        if MAPPING_START.match(line):
            parts = line.split()
            name = parts[5] if len(parts) > 5 else ""
        elif line.startswith("Size:"):
            size_kb = int(line.split()[1])
        elif line.startswith("Rss:"):
            resident[_mapping_kind(name, size_kb)] += int(line.split()[1])
    return {kind: kb / 1024 for kind, kb in resident.most_common()}


def start_if_asked() -> None:
    named = os.environ.get(PROFILE_VARIABLE)
    if not named:
        return
    path = Path(named)
    interval = float(os.environ.get(INTERVAL_VARIABLE) or 10)
    if os.environ.get(TRACE_VARIABLE) == "1":
        tracemalloc.start(1)
    threading.Thread(target=_report_every, args=(path, interval), name="memory-profile", daemon=True).start()


def _report_every(path: Path, interval: float) -> None:
    while True:
        with path.open("a") as out:
            out.write(report())
        time.sleep(interval)


def report() -> str:
    status = status_mb()
    threads = Counter(re.sub(r"\d+", "N", t.name) for t in threading.enumerate())
    lines = [
        f"=== {time.strftime('%H:%M:%S')} VmRSS {status.get('VmRSS', 0):.0f} MB, VmHWM {status.get('VmHWM', 0):.0f} MB,"
        f" {sum(threads.values())} threads",
        "resident: " + ", ".join(f"{kind} {mb:.0f} MB" for kind, mb in resident_by_mapping().items() if mb >= 1),
        "threads: " + ", ".join(f"{kind} x{count}" for kind, count in threads.most_common()),
    ]
    if tracemalloc.is_tracing():
        traced, _ = tracemalloc.get_traced_memory()
        lines.append(f"Python, allocated since the backend started: {traced / 2**20:.0f} MB, by line:")
        statistics = tracemalloc.take_snapshot().statistics("lineno")[:TOP]
        lines += [f"  {s.size / 2**20:8.1f} MB {s.count:8} {s.traceback[0]}" for s in statistics]
    return "\n".join(lines) + "\n"
