"""The build's jobs from snakemake's log: when each rule's job started and finished, and which jobs it
read the outputs of (which gives the critical path), with the last line of what the job used.

snakemake prints a timestamp line before each job it starts ("[Mon Nov 30 00:30:30 2026]" then
"rule NAME:" or "localrule NAME:" and indented "jobid: N", "input: ...", "output: ...") and before
each job it finishes ("Finished jobid: N (Rule: NAME)" in snakemake 9, "Finished job N." before) or
fails ("Error in rule NAME:" then "jobid: N"). Lines are fed one at a time (CollectLogs feeds them as
it archives the log, the report's fallback as it reads the archived log back), in bounded state: the
first MAX_JOBS jobs, each with at most MAX_FILES_PER_JOB files read and written.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from nsclient_common.snakelog import JOB_FINISHED, JOB_STARTS, RULE_NAME
from nsclient_common.usage import USAGE_MARKER, JobUsage, parse_usage_line

if TYPE_CHECKING:
    from collections.abc import Iterable

_STAMP = re.compile(r"^\[(?P<stamp>\w{3} \w{3} +\d{1,2} \d{2}:\d{2}:\d{2} \d{4})\]\s*$")
_ERROR = re.compile(rf"^Error in rule (?P<rule>{RULE_NAME}):\s*$")
_FIELD = re.compile(r"^\s+(?P<name>jobid|input|output|threads|benchmark): (?P<value>.*)$")
MAX_FILES_PER_JOB = 200  # enough to link jobs; bounds memory for rules with huge file lists
# Jobs kept, the first started: the report draws a bar for each, and a page of more bars is no longer read;
# the timeline stored beside the log stays small (about 120 bytes a job) whatever the build's size.
MAX_JOBS = 5000


class RuleJob(BaseModel):
    jobid: int
    rule: str
    start: datetime
    end: datetime | None = None
    failed: bool = False
    threads: int = 1
    after: list[int] = Field(default_factory=list)  # the jobs whose outputs it read
    benchmark: str | None = None  # the job's benchmark file, when its rule declares one
    cut_short: bool = False  # still running when the run ended: its end is the run's
    # What it read and wrote, while the log is read: `after` is made of them, and only it is kept.
    inputs: list[str] = Field(default_factory=list, exclude=True)
    outputs: list[str] = Field(default_factory=list, exclude=True)
    local: bool = Field(default=False, exclude=True)  # run by snakemake itself (a localrule)

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds() if self.end else 0.0

    @property
    def is_target(self) -> bool:
        """A target rule (a localrule without output, such as `all`): it does no work."""
        return self.local and not self.outputs


class BuildTimeline(BaseModel):
    """What the report reads of the log, stored beside it (layout.timeline_key) as it is archived."""

    jobs: list[RuleJob] = []  # the first MAX_JOBS started, in that order; target rules left out
    jobs_left_out: int = 0  # jobs started after those
    usage: JobUsage | None = None  # the job's measuring line (the last, of a run that ran more than one)


_MONTHS = {name: number for number, name in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)}


def _stamp(text: str) -> datetime | None:
    """snakemake's "Mon Nov 30 00:30:30 2026" (by hand: strptime took most of a long log's reading), or None."""
    _, month, day, clock, year = text.split()
    hour, minute, second = clock.split(":")
    try:
        return datetime(int(year), _MONTHS[month], int(day), int(hour), int(minute), int(second))
    except (KeyError, ValueError):
        return None


def _files(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()][:MAX_FILES_PER_JOB]


class TimelineReader:
    """The one reader of the build's timeline: fed the log's lines, in order, in any number of calls."""

    def __init__(self) -> None:
        self._jobs: dict[int, RuleJob] = {}
        self._left_out = 0
        self._usage: JobUsage | None = None
        self._stamp: datetime | None = None
        self._opening: RuleJob | None = None  # the job whose indented fields are being read
        self._opening_kept = False
        self._failing: tuple[str, datetime] | None = None

    def _close(self) -> None:
        """The job whose fields were being read has them all: count it if it is not kept."""
        opening, self._opening = self._opening, None
        if opening is not None and opening.jobid >= 0 and not self._opening_kept and not opening.is_target:
            self._left_out += 1

    def _open(self, job: RuleJob) -> None:
        self._close()
        self._opening, self._opening_kept = job, False

    def _field(self, name: str, value: str) -> None:
        if self._failing is not None:
            if name == "jobid" and value.isdigit():
                if (job := self._jobs.get(int(value))) is not None:  # not one of the jobs past MAX_JOBS
                    job.end, job.failed = self._failing[1], True
                self._failing = None
            return
        opening = self._opening
        if opening is None:
            return
        if name == "jobid" and value.isdigit():
            opening.jobid = int(value)
            # A job run again (a later attempt's) takes its place; a job past the first MAX_JOBS is counted.
            if opening.jobid in self._jobs or len(self._jobs) < MAX_JOBS:
                self._jobs[opening.jobid], self._opening_kept = opening, True
        elif name == "input":
            opening.inputs = _files(value)
        elif name == "output":
            opening.outputs = _files(value)
        elif name == "threads" and value.isdigit():
            opening.threads = int(value)
        elif name == "benchmark":
            opening.benchmark = value

    def feed(self, lines: Iterable[str]) -> None:
        for raw in lines:
            line = raw.rstrip("\n")
            if USAGE_MARKER in line and (usage := parse_usage_line(line)) is not None:
                self._usage = usage
            if (match := _STAMP.match(line)) and (stamp := _stamp(match["stamp"])) is not None:
                self._close()
                self._stamp = stamp
                continue
            if self._stamp is not None and (match := JOB_STARTS.match(line)):
                self._open(RuleJob(jobid=-1, rule=match["rule"], start=self._stamp, local=bool(match["local"])))
                continue
            if match := _ERROR.match(line):
                self._close()
                self._failing = (match["rule"], self._stamp or datetime.min)
                continue
            if (self._opening is not None or self._failing is not None) and (match := _FIELD.match(line)):
                self._field(match["name"], match["value"].strip())
                continue
            if self._stamp is not None and (match := JOB_FINISHED.match(line)):
                if (job := self._jobs.get(int(match["jobid"]))) is not None:
                    job.end = self._stamp
            if line and not line.startswith((" ", "\t")):
                self._close()

    def timeline(self) -> BuildTimeline:
        """Every job read so far, each with the jobs it read the outputs of (by the last to write each file)."""
        self._close()
        jobs = [job for job in self._jobs.values() if job.jobid >= 0 and not job.is_target]
        producer = {output: job.jobid for job in jobs for output in job.outputs}
        for job in jobs:
            job.after = sorted({producer[i] for i in job.inputs if i in producer and producer[i] != job.jobid})
        return BuildTimeline(jobs=jobs, jobs_left_out=self._left_out, usage=self._usage)


def read_timeline(lines: Iterable[str]) -> BuildTimeline:
    reader = TimelineReader()
    reader.feed(lines)
    return reader.timeline()


def parse_jobs(lines: Iterable[str]) -> list[RuleJob]:
    """Every job snakemake started, in the order started (up to MAX_JOBS); a job never finished has no end."""
    return read_timeline(lines).jobs


def critical_path(jobs: list[RuleJob]) -> list[RuleJob]:
    """The chain of dependent jobs (one reading what the one before wrote) with the longest total time.
    Snakemake's log stamps whole seconds, so quick jobs take 0 s: of chains equally long, the one of more
    jobs (export's through tree and distances to filter, not its direct read of filter's output)."""
    by_id = {job.jobid: job for job in jobs}
    # jobid -> (longest time ending with it, jobs in that chain, previous jobid)
    best: dict[int, tuple[float, int, int | None]] = {}
    for job in sorted(jobs, key=lambda j: j.start):
        before = max(((best[u][0], best[u][1], u) for u in job.after if u in best), default=(0.0, 0, None))
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
