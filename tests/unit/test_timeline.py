"""The build's jobs read from snakemake's log: start and end of each, what it read and wrote, the jobs
run side by side and the critical path."""

from __future__ import annotations

from nsclient_common.timeline import critical_path, most_at_once, parse_jobs

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
