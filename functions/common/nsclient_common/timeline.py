"""The build's jobs from snakemake's log: when each rule's job started and finished, and what it read
and wrote (which gives the dependencies, hence the critical path).

snakemake prints a timestamp line before each job it starts ("[Mon Nov 30 00:30:30 2026]" then
"rule NAME:" or "localrule NAME:" and indented "jobid: N", "input: ...", "output: ...") and before
each job it finishes ("Finished jobid: N (Rule: NAME)" in snakemake 9, "Finished job N." before) or
fails ("Error in rule NAME:" then "jobid: N"). Lines are read one at a time, in bounded state per job.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel

from nsclient_common.snakelog import JOB_FINISHED, JOB_STARTS, RULE_NAME

if TYPE_CHECKING:
    from collections.abc import Iterable

_STAMP = re.compile(r"^\[(?P<stamp>\w{3} \w{3} +\d{1,2} \d{2}:\d{2}:\d{2} \d{4})\]\s*$")
_ERROR = re.compile(rf"^Error in rule (?P<rule>{RULE_NAME}):\s*$")
_FIELD = re.compile(r"^\s+(?P<name>jobid|input|output|threads|benchmark): (?P<value>.*)$")
MAX_FILES_PER_JOB = 200  # enough to link jobs; bounds memory for rules with huge file lists


class RuleJob(BaseModel):
    jobid: int
    rule: str
    start: datetime
    end: datetime | None = None
    failed: bool = False
    threads: int = 1
    inputs: list[str] = []
    outputs: list[str] = []
    benchmark: str | None = None  # the job's benchmark file, when its rule declares one
    local: bool = False  # run by snakemake itself (a localrule)
    cut_short: bool = False  # still running when the run ended: its end is the run's

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds() if self.end else 0.0


def _stamp(text: str) -> datetime:
    return datetime.strptime(" ".join(text.split()), "%a %b %d %H:%M:%S %Y")


def _files(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()][:MAX_FILES_PER_JOB]


def parse_jobs(lines: Iterable[str]) -> list[RuleJob]:
    """Every job snakemake started, in the order started; a job never finished has no end. Target rules
    (a localrule without output, such as `all`) do no work and are left out."""
    jobs: dict[int, RuleJob] = {}
    stamp: datetime | None = None
    opening: RuleJob | None = None  # the job whose indented fields are being read
    failing: tuple[str, datetime] | None = None
    for raw in lines:
        line = raw.rstrip("\n")
        if match := _STAMP.match(line):
            stamp, opening = _stamp(match["stamp"]), None
            continue
        if stamp is not None and (match := JOB_STARTS.match(line)):
            opening = RuleJob(jobid=-1, rule=match["rule"], start=stamp, local=bool(match["local"]))
            continue
        if match := _ERROR.match(line):
            failing, opening = (match["rule"], stamp or datetime.min), None
            continue
        if (opening is not None or failing is not None) and (match := _FIELD.match(line)):
            name, value = match["name"], match["value"].strip()
            if failing is not None:
                if name == "jobid" and value.isdigit() and (job := jobs.get(int(value))) is not None:
                    job.end, job.failed = failing[1], True
                    failing = None
            elif opening is not None:
                if name == "jobid" and value.isdigit():
                    opening.jobid = int(value)
                    jobs[opening.jobid] = opening
                elif name == "input":
                    opening.inputs = _files(value)
                elif name == "output":
                    opening.outputs = _files(value)
                elif name == "threads" and value.isdigit():
                    opening.threads = int(value)
                elif name == "benchmark":
                    opening.benchmark = value
            continue
        if stamp is not None and (match := JOB_FINISHED.match(line)):
            if (job := jobs.get(int(match["jobid"]))) is not None:
                job.end = stamp
        if line and not line.startswith((" ", "\t")):
            opening = None
    return [job for job in jobs.values() if job.jobid >= 0 and not (job.local and not job.outputs)]


def critical_path(jobs: list[RuleJob]) -> list[RuleJob]:
    """The chain of dependent jobs (one reading what the one before wrote) with the longest total time.
    Snakemake's log stamps whole seconds, so quick jobs take 0 s: of chains equally long, the one of more
    jobs (export's through tree and distances to filter, not its direct read of filter's output)."""
    producer = {output: job.jobid for job in jobs for output in job.outputs}
    by_id = {job.jobid: job for job in jobs}
    # jobid -> (longest time ending with it, jobs in that chain, previous jobid)
    best: dict[int, tuple[float, int, int | None]] = {}
    for job in sorted(jobs, key=lambda j: j.start):
        upstream = {producer[i] for i in job.inputs if i in producer and producer[i] != job.jobid}
        before = max(((best[u][0], best[u][1], u) for u in upstream if u in best), default=(0.0, 0, None))
        best[job.jobid] = (before[0] + job.seconds, before[1] + 1, before[2])
    if not best:
        return []
    # Of chains equally long, the one of more jobs, then the one ending last.
    last: int | None = max(best, key=lambda jobid: (best[jobid][0], best[jobid][1], by_id[jobid].start))
    path = []
    while last is not None:
        path.append(by_id[last])
        last = best[last][2]
    return path[::-1]


def end_unfinished(jobs: list[RuleJob], ended: datetime) -> None:
    """Jobs the log never saw finish (a cancelled or killed run) ran until the run ended: their time counts."""
    for job in jobs:
        if job.end is None and ended > job.start:
            job.end, job.cut_short = ended, True


def most_at_once(jobs: list[RuleJob], *, cores: bool = False) -> int:
    """The most jobs running at the same time (with cores: the most of their threads)."""

    def weight(job: RuleJob) -> int:
        return job.threads if cores else 1

    # Snakemake's log stamps whole seconds. A job that started and ended within one still ran: it counts
    # with the longer jobs running then, but not with other such jobs of that second, which as often ran
    # one after the other (kinds, in the order taken at one time: 0 an end, 1 such a job, 2 a start).
    events: list[tuple[datetime, int, int]] = []
    for job in jobs:
        if job.end is not None and job.end <= job.start:
            events.append((job.start, 1, weight(job)))
            continue
        events.append((job.start, 2, weight(job)))
        if job.end is not None:
            events.append((job.end, 0, -weight(job)))
    running = top = 0
    for _, kind, step in sorted(events, key=lambda event: (event[0], event[1])):
        if kind == 1:
            top = max(top, running + step)
        else:
            running += step
            top = max(top, running)
    return top
