"""What a job used, measured inside the job without changing the image.

The job's command is wrapped in a POSIX shell script (the stock `nextstrain/base` image has sh, cat
and sleep): it samples the container's cgroup while the build runs (cgroup v2's cpu.stat and
memory.current/peak, or v1's cpuacct.usage and memory.usage_in_bytes/max_usage_in_bytes) and, once
the build's command has exited, prints one USAGE_MARKER line to the log, which the report reads back.
It prints nothing else. The build's exit status and signals (a terminated job's SIGTERM) pass through
unchanged.
"""

from __future__ import annotations

import re

from pydantic import BaseModel

USAGE_MARKER = "nsclient-usage:"
CGROUP_VAR = "NSCLIENT_CGROUP"  # where the cgroup is mounted; /sys/fs/cgroup in a container
INTERVAL_VAR = "NSCLIENT_USAGE_INTERVAL"  # seconds between samples

SCRIPT_VAR = "NSCLIENT_USAGE_SCRIPT"  # the script itself, in the job's environment

# Every value read from the cgroup goes through `num`: a file missing, empty or caught mid-write reads as 0,
# so no test or arithmetic ever sees a non-number (no "Illegal number" in the build's log).
MEASURE_SCRIPT = r"""
unset NSCLIENT_USAGE_SCRIPT
cg=${NSCLIENT_CGROUP:-/sys/fs/cgroup}
every=${NSCLIENT_USAGE_INTERVAL:-5}
num() { case $1 in ''|*[!0-9]*) echo 0 ;; *) v=${1#"${1%%[!0]*}"}; echo "${v:-0}" ;; esac; }
first() { v=; [ -r "$1" ] && read -r v 2>/dev/null < "$1"; num "$v"; }
version=none
[ -r "$cg/cpuacct/cpuacct.usage" ] && version=v1
[ -r "$cg/cpu.stat" ] && version=v2
cpu_us() {
  case $version in
    v2)
      u=
      while read -r key value || [ -n "$key" ]; do
        [ "$key" = usage_usec ] && u=$value; key=
      done 2>/dev/null < "$cg/cpu.stat"
      num "$u" ;;
    v1) echo $(( $(first "$cg/cpuacct/cpuacct.usage") / 1000 )) ;;
    *) echo 0 ;;
  esac
}
either() { if [ -r "$cg/$1" ]; then first "$cg/$1"; else first "$cg/memory/$2"; fi; }
mem_now() { either memory.current memory.usage_in_bytes; }
mem_peak() { either memory.peak memory.max_usage_in_bytes; }
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
top_cpu=; top_mem=; read -r top_cpu top_mem 2>/dev/null < "$samples"
top_cpu=$(num "$top_cpu"); top_mem=$(num "$top_mem")
peak=$(mem_peak); [ "$peak" -gt "$top_mem" ] || peak=$top_mem
rm -f "$samples"
echo "nsclient-usage: cgroup=$version wall_s=$(( end - start ))" \
  "cpu_s=$(( (cpu_end - cpu_start) / 1000000 )) peak_cpus_milli=$top_cpu peak_memory_bytes=$peak"
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


# The job's command names the script rather than holding it: the image's entrypoint traces the command it
# runs into the build's log, where this reads as one short line instead of the whole script.
RUN_SCRIPT = f'eval "${SCRIPT_VAR}"'


def wrap_command(command: list[str]) -> list[str]:
    """The command run under the measuring script (given to the job as SCRIPT_VAR): `sh -c 'eval ...' COMMAND...`."""
    return ["sh", "-c", RUN_SCRIPT, "nsclient-usage", *command]


def script_environment() -> dict[str, str]:
    """The job's variable that holds the measuring script."""
    return {SCRIPT_VAR: MEASURE_SCRIPT}


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
