"""The run report (runs/<id>/report.json and report.html): the build's timeline, what the job used
against what it asked for, and one sentence on what to ask for next time."""

from __future__ import annotations

import math
from datetime import UTC
from typing import TYPE_CHECKING

from pydantic import BaseModel

from nsclient_common.record import parse_iso
from nsclient_common.snakebenchmarks import RuleUsage, rule_usage
from nsclient_common.timeline import critical_path, end_unfinished, most_at_once
from nsclient_common.usage import JobUsage

if TYPE_CHECKING:
    from collections.abc import Callable

    from nsclient_common.record import RunRecord
    from nsclient_common.timeline import BuildTimeline

GIB = 1024**3
# Room left above the measured peak when suggesting memory: snakemake's and the tools' peaks vary by input.
MEMORY_HEADROOM = 1.25


class JobBar(BaseModel):
    jobid: int
    rule: str
    start_s: float  # from the first job's start
    seconds: float
    failed: bool = False
    finished: bool = True


class RuleSummary(BaseModel):
    rule: str
    jobs: int
    total_seconds: float
    longest_seconds: float


class RunReport(BaseModel):
    run_id: str
    build_name: str
    status: str
    cpus: int | None
    memory_mib: int | None
    jobs: list[JobBar]
    jobs_left_out: int = 0  # started after the timeline's first MAX_JOBS: in no bar, rule or path
    rules: list[RuleSummary]
    critical_path: list[str]  # rule names, first to last
    critical_path_seconds: float
    most_jobs_at_once: int
    usage: JobUsage | None
    rule_usage: list[RuleUsage] = []  # from the build's benchmark: files, when it declares them
    advice: str
    cost_estimate_usd: float | None = None


def _gib(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def advise(
    cpus: int | None, memory_mib: int | None, usage: JobUsage | None, at_once: int, cores_at_once: int = 0
) -> str:
    """One sentence a person can act on, naming the options to give next time. `at_once` is the most rules
    that ran side by side, `cores_at_once` the most of their threads."""
    parts = []
    if usage is not None and memory_mib:
        peak = usage.peak_memory_bytes / GIB
        asked = memory_mib / 1024
        suggest = max(1, math.ceil(peak * MEMORY_HEADROOM))
        if suggest < asked:
            parts.append(f"asked {_gib(asked)} GiB, peaked at {_gib(peak)} GiB: `--memory {suggest}GiB` would do")
        elif peak >= asked * 0.9:
            parts.append(f"asked {_gib(asked)} GiB and peaked at {_gib(peak)} GiB: give `--memory {suggest}GiB`")
        else:
            parts.append(f"asked {_gib(asked)} GiB and peaked at {_gib(peak)} GiB: about right")
    if cpus:
        used = max(cores_at_once, at_once, 1)
        rules = "rule" if at_once == 1 else "rules"
        # Judged on the peak as the report shows it (one decimal), so the sentence never contradicts the table.
        busy = round(usage.peak_cpus, 1) if usage else None
        if used < cpus:
            parts.append(f"{cpus} CPUs but never more than {at_once} {rules} at once: `--cpus {used}` would do")
        elif busy is not None and max(1, math.ceil(busy)) < cpus:
            parts.append(
                f"{cpus} CPUs and {at_once} {rules} at once, but never more than {busy:.1f} CPUs busy: "
                f"`--cpus {max(1, math.ceil(busy))}` would do"
            )
        elif busy is None:
            parts.append(f"{cpus} CPUs and up to {used} cores' worth of rules at once: keep them")
        elif busy >= cpus * 0.9:
            parts.append(f"{cpus} CPUs, all in use at times ({busy:.1f} busy at the peak): keep them or give more")
        else:
            parts.append(f"{cpus} CPUs, at most {busy:.1f} busy: about right")
    if not parts:
        return "No measurement of this run's use was available, so there is no advice on its resources."
    sentence = "; ".join(parts)
    return sentence[0].upper() + sentence[1:] + "."


def build_report(
    record: RunRecord,
    build_name: str,
    timeline: BuildTimeline,
    read_benchmarks: Callable[[dict[str, str]], list[tuple[str, str]]] | None = None,
) -> RunReport:
    jobs = timeline.jobs
    if record.finished_at:  # the log's stamps are the container's clock, UTC
        end_unfinished(jobs, parse_iso(record.finished_at).astimezone(UTC).replace(tzinfo=None))
    benchmark_files = {job.benchmark: job.rule for job in jobs if job.benchmark}
    usage = timeline.usage
    origin = min((job.start for job in jobs), default=None)
    bars = [
        JobBar(
            jobid=job.jobid,
            rule=job.rule,
            start_s=(job.start - origin).total_seconds() if origin else 0.0,
            seconds=job.seconds,
            failed=job.failed,
            finished=job.end is not None and not job.cut_short,
        )
        for job in jobs
    ]
    rules: dict[str, RuleSummary] = {}
    for job in jobs:
        summary = rules.setdefault(job.rule, RuleSummary(rule=job.rule, jobs=0, total_seconds=0, longest_seconds=0))
        summary.jobs += 1
        summary.total_seconds += job.seconds
        summary.longest_seconds = max(summary.longest_seconds, job.seconds)
    path = critical_path(jobs)
    at_once = most_at_once(jobs)
    cores_at_once = most_at_once(jobs, cores=True)
    return RunReport(
        run_id=record.run_id,
        build_name=build_name,
        status=record.status.value,
        cpus=record.cpus,
        memory_mib=record.memory_mib,
        jobs=bars,
        jobs_left_out=timeline.jobs_left_out,
        rules=sorted(rules.values(), key=lambda r: -r.total_seconds),
        critical_path=[job.rule for job in path],
        critical_path_seconds=sum(job.seconds for job in path),
        most_jobs_at_once=at_once,
        usage=usage,
        rule_usage=rule_usage(read_benchmarks(benchmark_files)) if read_benchmarks and benchmark_files else [],
        advice=advise(record.cpus, record.memory_mib, usage, at_once, cores_at_once),
        cost_estimate_usd=record.cost_estimate_usd,
    )
