"""A job's own cgroup, for a Batch job run as a local process.

In a container, the build's measuring script (nsclient_common.usage) reads the container's cgroup at
/sys/fs/cgroup. A local job shares the machine's cgroup with everything else, so this gives it a
directory holding the cgroup v2 files the script reads (cpu.stat's usage_usec, memory.current,
memory.peak), kept up to date from /proc for the job's process tree only, and points the script at it.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import threading
from pathlib import Path

from nsclient_common.usage import CGROUP_VAR, INTERVAL_VAR

SAMPLE_SECONDS = 0.2
_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            tree.setdefault(parent, []).append(int(entry.name))
    return tree


def _tree_usage(root: int) -> tuple[int, int]:
    """CPU microseconds (each process's own and its reaped descendants') and resident bytes of the tree."""
    tree, pending, cpu_ticks, rss = _children(), [root], 0, 0
    while pending:
        pid = pending.pop()
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            rss += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE
        except (OSError, IndexError, ValueError):
            continue
        cpu_ticks += sum(int(value) for value in fields[11:15])  # utime, stime, cutime, cstime
        pending += tree.get(pid, [])
    return cpu_ticks * 1_000_000 // _TICKS, rss


def run_measured(command: list[str], cwd: Path) -> int:
    """Run the job's command in `cwd` with its own cgroup files; its return code (negative for a signal)."""
    with tempfile.TemporaryDirectory(prefix="nsclient-cgroup-") as scratch:
        cgroup = Path(scratch)
        for name in ("cpu.stat", "memory.current", "memory.peak"):
            (cgroup / name).write_text("usage_usec 0\n" if name == "cpu.stat" else "0\n")
        env = dict(os.environ, **{CGROUP_VAR: str(cgroup), INTERVAL_VAR: "1"})
        process = subprocess.Popen(command, cwd=cwd, stdin=subprocess.DEVNULL, env=env)
        stop = threading.Event()

        def sample() -> None:
            top_cpu, peak = 0, 0
            while not stop.wait(SAMPLE_SECONDS):
                cpu, rss = _tree_usage(process.pid)
                top_cpu, peak = max(top_cpu, cpu), max(peak, rss)  # a tree's count shrinks as processes exit
                (cgroup / "cpu.stat").write_text(f"usage_usec {top_cpu}\n")
                (cgroup / "memory.current").write_text(f"{rss}\n")
                (cgroup / "memory.peak").write_text(f"{peak}\n")

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            return process.wait()
        finally:
            stop.set()
            sampler.join()
