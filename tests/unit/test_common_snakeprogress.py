"""The build's progress read from snakemake's log, line by line, as the wait view reads the live stream."""

from __future__ import annotations

from nsclient_common.snakeprogress import SnakemakeProgress

# The example build's log from snakemake 9, trimmed: the job stats, the first rule, its end.
SNAKEMAKE_9 = """\
Building DAG of jobs...
Job stats:
job          count
---------  -------
filter           1
distances        1
tree             1
all              1
total            4

Select jobs to execute...
Execute 1 jobs...

[Mon Nov 30 02:50:07 2026]
localrule filter:
    input: data/sequences.fasta, data/metadata.tsv, data/exclude.txt
    output: results/filtered.fasta
    jobid: 3
    reason: Missing output files: results/filtered.fasta
    resources: tmpdir=/tmp, mem_mb=256, mem=256 MB, mem_mib=245
filter: kept 14 of 18 sequences, dropped 4
[Mon Nov 30 02:50:07 2026]
Finished jobid: 3 (Rule: filter)
1 of 4 steps (25%) done
"""

# Snakemake 7 and 8 say "rule" and "Finished job N."; two jobs run at once, and one fails.
SNAKEMAKE_8_PARALLEL = """\
[Mon Nov 30 02:50:07 2026]
rule align:
    input: a.fasta
    jobid: 5
    wildcards: sample=a

[Mon Nov 30 02:50:07 2026]
rule align:
    input: b.fasta
    jobid: 6
    wildcards: sample=b

[Mon Nov 30 02:50:09 2026]
checkpoint cluster:
    jobid: 7

[Mon Nov 30 02:50:10 2026]
Finished job 5.
3 of 9 steps (33%) done
[Mon Nov 30 02:50:11 2026]
Error in rule align:
    jobid: 6
    output: b.aligned
"""


def fed(text: str) -> SnakemakeProgress:
    progress = SnakemakeProgress()
    for line in text.splitlines():
        progress.feed(line)
    return progress


def test_the_total_comes_from_the_job_stats_before_any_step_is_done() -> None:
    progress = fed(SNAKEMAKE_9.split("Select jobs")[0])
    assert (progress.done, progress.total, progress.running) == (0, 4, [])


def test_a_rule_runs_from_its_jobid_line_until_its_job_finishes() -> None:
    before_end = fed(SNAKEMAKE_9.split("[Mon Nov 30 02:50:07 2026]\nFinished")[0])
    assert before_end.running == ["filter"]
    after = fed(SNAKEMAKE_9)
    assert (after.done, after.total, after.running) == (1, 4, [])


def test_parallel_jobs_of_older_snakemake_and_a_failed_one_end() -> None:
    up_to_three = fed(SNAKEMAKE_8_PARALLEL.split("[Mon Nov 30 02:50:10 2026]")[0])
    assert up_to_three.running == ["align", "align", "cluster"]
    progress = fed(SNAKEMAKE_8_PARALLEL)
    assert (progress.done, progress.total) == (3, 9)
    assert progress.running == ["cluster"]  # job 5 finished, job 6 failed
