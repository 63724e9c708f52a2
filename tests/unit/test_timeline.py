"""The build's jobs read from snakemake's log: start and end of each, what it read and wrote, the jobs
run side by side and the critical path."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nsclient_common.record import RunRecord, RunStatus
from nsclient_common.report import build_report
from nsclient_common.report_html import render_html
from nsclient_common.timeline import (
    MAX_JOBS,
    TimelineReader,
    critical_path,
    most_at_once,
    parse_jobs,
    read_timeline,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

# As snakemake 9 prints it (trimmed): a and b side by side, then c reading both; `all` is the target.
LOG = """\
[Mon Nov 30 03:24:40 2026]
localrule a:
    output: out/a.txt
    jobid: 2
    benchmark: benchmarks/a.tsv
    threads: 2

[Mon Nov 30 03:24:41 2026]
localrule b:
    output: out/b.txt
    jobid: 3

[Mon Nov 30 03:24:44 2026]
Finished jobid: 3 (Rule: b)
[Mon Nov 30 03:24:50 2026]
Finished jobid: 2 (Rule: a)

[Mon Nov 30 03:24:50 2026]
localrule c:
    input: out/a.txt, out/b.txt
    output: out/c.txt
    jobid: 1

[Mon Nov 30 03:24:50 2026]
Finished jobid: 1 (Rule: c)

[Mon Nov 30 03:24:50 2026]
localrule all:
    input: out/c.txt
    jobid: 0

[Mon Nov 30 03:24:50 2026]
Finished jobid: 0 (Rule: all)
"""


def test_jobs_their_times_and_the_critical_path() -> None:
    jobs = parse_jobs(LOG.splitlines())
    assert [(job.rule, job.seconds) for job in jobs] == [("a", 10.0), ("b", 3.0), ("c", 0.0)]
    assert (jobs[0].threads, jobs[0].benchmark) == (2, "benchmarks/a.tsv")
    assert most_at_once(jobs) == 2
    # c took under a second, and still ends the chain through the longer of what it read
    assert [job.rule for job in critical_path(jobs)] == ["a", "c"]


def test_a_failed_job_ends_at_its_error() -> None:
    failed = LOG.split("[Mon Nov 30 03:24:44 2026]")[0] + "[Mon Nov 30 03:24:46 2026]\nError in rule b:\n    jobid: 3\n"
    jobs = {job.rule: job for job in parse_jobs(failed.splitlines())}
    assert (jobs["b"].failed, jobs["b"].seconds) == (True, 5.0)
    assert jobs["a"].end is None


def test_jobs_within_one_logged_second_still_ran_one_at_a_time_at_least() -> None:
    # As the example build logs them: each rule starts and finishes within the same second.
    quick = "".join(
        f"[Mon Nov 30 04:00:0{i} 2026]\nlocalrule r{i}:\n    output: out/r{i}.txt\n    jobid: {i}\n\n"
        f"[Mon Nov 30 04:00:0{i} 2026]\nFinished jobid: {i} (Rule: r{i})\n"
        for i in range(1, 4)
    )
    jobs = parse_jobs(quick.splitlines())
    assert [job.seconds for job in jobs] == [0.0, 0.0, 0.0]
    assert most_at_once(jobs) == 1
    # also when all of them are stamped with the same second, as one after the other often are
    same_second = parse_jobs(quick.replace("04:00:02", "04:00:01").replace("04:00:03", "04:00:01").splitlines())
    assert len(same_second) == 3 and most_at_once(same_second) == 1
    # and a moment's job inside a longer one overlaps it
    inside = LOG.replace(
        "[Mon Nov 30 03:24:44 2026]\nFinished jobid: 3", "[Mon Nov 30 03:24:41 2026]\nFinished jobid: 3"
    )
    assert most_at_once(parse_jobs(inside.splitlines())) == 2


def test_the_timeline_is_the_same_fed_a_page_at_a_time_and_keeps_the_last_usage_line() -> None:
    lines = (
        LOG + "nsclient-usage: cgroup=v2 wall_s=10 cpu_s=7 peak_cpus_milli=1500 peak_memory_bytes=1048576\n"
    ).splitlines()
    whole = read_timeline(lines)
    reader = TimelineReader()
    for start in range(0, len(lines), 4):  # as the log's archiving feeds it, page by page
        reader.feed(iter(lines[start : start + 4]))
    assert reader.timeline() == whole
    assert whole.usage is not None and (whole.usage.peak_cpus, whole.usage.cpu_seconds) == (1.5, 7)
    # what a job read is kept as the jobs that wrote it: c read a's and b's outputs
    assert {job.rule: job.after for job in whole.jobs} == {"a": [], "b": [], "c": [2, 3]}


def test_a_build_of_100000_jobs_keeps_the_first_jobs_and_counts_the_rest() -> None:
    def log() -> Iterator[str]:
        for i in range(1, 100_001):
            yield f"[Mon Nov 30 {i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d} 2026]"
            yield f"rule step{i % 7}:"
            yield f"    input: out/{i - 1}.txt"
            yield f"    output: out/{i}.txt"
            yield f"    jobid: {i}"
            if i == 99_998:  # a job past those kept fails: the jobs after it are still counted
                yield "Error in rule step3:"
                yield f"    jobid: {i}"
        yield "[Mon Nov 30 23:59:59 2026]"
        yield "localrule all:"
        yield "    input: out/100000.txt"
        yield "    jobid: 0"

    timeline = read_timeline(log())
    assert (len(timeline.jobs), timeline.jobs_left_out) == (MAX_JOBS, 100_000 - MAX_JOBS)  # the target is no job
    assert [job.jobid for job in timeline.jobs[:3]] == [1, 2, 3] and timeline.jobs[2].after == [2]
    # What is stored beside the log stays small whatever the build's size.
    assert len(timeline.model_dump_json(exclude_defaults=True)) < MAX_JOBS * 200
    # and the report says what it leaves out
    record = RunRecord(run_id="big-0123456789", status=RunStatus.SUCCEEDED, submitted_at="2026-11-30T00:00:00Z")
    page = render_html(build_report(record, "big", timeline))
    assert f"{100_000 - MAX_JOBS} more jobs started after these {MAX_JOBS}" in page


def test_a_line_like_a_stamp_that_is_no_date_is_not_one() -> None:
    odd = LOG.replace("[Mon Nov 30 03:24:41 2026]", "[Mon Nov 30 03:24:41 2026]\n[Abc Xyz 31 99:24:41 2026]")
    assert parse_jobs(odd.splitlines()) == parse_jobs(LOG.splitlines())
