"""What a job used, measured inside the job without changing the image.

The job's command is wrapped in a POSIX shell script (the stock `nextstrain/base` image has sh, cat
and sleep): it samples the container's cgroup while the build runs (cgroup v2's cpu.stat and
memory.current/peak, or v1's cpuacct.usage and memory.usage_in_bytes/max_usage_in_bytes) and, once
the build's command has exited, prints one USAGE_MARKER line to the log, which the report reads back.
The build's exit status and signals (a terminated job's SIGTERM) pass through unchanged.
"""

from __future__ import annotations

import re

from pydantic import BaseModel

USAGE_MARKER = "nsclient-usage:"
CGROUP_VAR = "NSCLIENT_CGROUP"  # where the cgroup is mounted; /sys/fs/cgroup in a container
INTERVAL_VAR = "NSCLIENT_USAGE_INTERVAL"  # seconds between samples

MEASURE_SCRIPT = r"""
cg=${NSCLIENT_CGROUP:-/sys/fs/cgroup}
every=${NSCLIENT_USAGE_INTERVAL:-5}
version=none
[ -r "$cg/cpuacct/cpuacct.usage" ] && version=v1
[ -r "$cg/cpu.stat" ] && version=v2
cpu_us() {
  case $version in
    v2) while read -r key value; do [ "$key" = usage_usec ] && echo "$value"; done < "$cg/cpu.stat" ;;
    v1) echo $(( $(cat "$cg/cpuacct/cpuacct.usage") / 1000 )) ;;
    *) echo 0 ;;
  esac
}
mem_now() { cat "$cg/memory.current" 2>/dev/null || cat "$cg/memory/memory.usage_in_bytes" 2>/dev/null || echo 0; }
mem_peak() { cat "$cg/memory.peak" 2>/dev/null || cat "$cg/memory/memory.max_usage_in_bytes" 2>/dev/null || echo 0; }
samples=$(mktemp)
start=$(date +%s); cpu_start=$(cpu_us)
(
  last=$start; last_cpu=$cpu_start; top_cpu=0; top_mem=0
  while sleep "$every"; do
    now=$(date +%s); cpu=$(cpu_us); mem=$(mem_now)
    if [ "$now" -gt "$last" ]; then
      rate=$(( (cpu - last_cpu) / (now - last) / 1000 ))
      [ "$rate" -gt "$top_cpu" ] && top_cpu=$rate
      last=$now; last_cpu=$cpu
    fi
    [ "$mem" -gt "$top_mem" ] && top_mem=$mem
    echo "$top_cpu $top_mem" > "$samples"
  done
) &
sampler=$!
"$@" &
child=$!
trap 'kill -TERM "$child" 2>/dev/null' TERM INT HUP
wait "$child"; status=$?
while kill -0 "$child" 2>/dev/null; do wait "$child"; status=$?; done
kill "$sampler" 2>/dev/null
end=$(date +%s); cpu_end=$(cpu_us)
read -r top_cpu top_mem < "$samples" 2>/dev/null || { top_cpu=0; top_mem=0; }
peak=$(mem_peak); [ "$peak" -gt "${top_mem:-0}" ] || peak=${top_mem:-0}
rm -f "$samples"
echo "nsclient-usage: cgroup=$version wall_s=$(( end - start ))" \
  "cpu_s=$(( (cpu_end - cpu_start) / 1000000 )) peak_cpus_milli=${top_cpu:-0} peak_memory_bytes=$peak"
exit $status
""".strip()

_LINE = re.compile(
    r"nsclient-usage: cgroup=(?P<cgroup>\S+) wall_s=(?P<wall>\d+) cpu_s=(?P<cpu>\d+) "
    r"peak_cpus_milli=(?P<peak_cpu>\d+) peak_memory_bytes=(?P<peak_memory>\d+)"
)


class JobUsage(BaseModel):
    cgroup: str  # v1, v2, or none (no cgroup to read: nothing was measured)
    wall_seconds: int
    cpu_seconds: int
    peak_cpus: float  # the most cpus busy at once over one sampling interval
    peak_memory_bytes: int

    @property
    def average_cpus(self) -> float:
        return self.cpu_seconds / self.wall_seconds if self.wall_seconds else 0.0


def wrap_command(command: list[str]) -> list[str]:
    """The command run under the measuring script: `sh -c SCRIPT nsclient-usage COMMAND...`."""
    return ["sh", "-c", MEASURE_SCRIPT, "nsclient-usage", *command]


def parse_usage_line(line: str) -> JobUsage | None:
    match = _LINE.search(line)
    if match is None or match["cgroup"] == "none":
        return None
    return JobUsage(
        cgroup=match["cgroup"],
        wall_seconds=int(match["wall"]),
        cpu_seconds=int(match["cpu"]),
        peak_cpus=int(match["peak_cpu"]) / 1000,
        peak_memory_bytes=int(match["peak_memory"]),
    )
