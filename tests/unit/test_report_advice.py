"""The run report's sentence on what to ask for next time, and each rule's use from its benchmark files."""

from __future__ import annotations

from nsclient_common.report import advise
from nsclient_common.snakebenchmarks import rule_usage
from nsclient_common.usage import JobUsage, parse_usage_line

GIB = 1024**3


def usage(peak_gib: float, peak_cpus: float) -> JobUsage:
    return JobUsage(
        cgroup="v2", wall_seconds=600, cpu_seconds=900, peak_cpus=peak_cpus, peak_memory_bytes=int(peak_gib * GIB)
    )


def test_too_much_asked_names_the_options_that_would_do() -> None:
    sentence = advise(cpus=8, memory_mib=14 * 1024, usage=usage(3.1, 1.6), at_once=2, cores_at_once=2)
    assert sentence == (
        "Asked 14 GiB, peaked at 3.1 GiB: `--memory 4GiB` would do; "
        "8 CPUs but never more than 2 rules at once: `--cpus 2` would do."
    )


def test_rules_side_by_side_that_keep_few_cpus_busy() -> None:
    # Two single-threaded rules at once on 2 CPUs, yet the job never kept more than 0.3 CPUs busy
    sentence = advise(cpus=2, memory_mib=None, usage=usage(0.1, 0.3), at_once=2, cores_at_once=2)
    assert sentence == "2 CPUs and 2 rules at once, but never more than 0.3 CPUs busy: `--cpus 1` would do."


def test_threads_count_as_the_cores_a_rule_takes() -> None:
    # One rule at a time, but of 4 threads: 4 of the 8 CPUs would do
    sentence = advise(cpus=8, memory_mib=None, usage=None, at_once=1, cores_at_once=4)
    assert sentence == "8 CPUs but never more than 1 rule at once: `--cpus 4` would do."


def test_a_job_near_its_limit_is_told_to_ask_for_more() -> None:
    sentence = advise(cpus=2, memory_mib=4 * 1024, usage=usage(3.9, 2.0), at_once=2, cores_at_once=2)
    assert sentence == (
        "Asked 4 GiB and peaked at 3.9 GiB: give `--memory 5GiB`; "
        "2 CPUs, all in use at times (2.0 busy at the peak): keep them or give more."
    )


def test_a_peak_shown_as_1_0_of_2_cpus_is_never_called_all_in_use() -> None:
    # The report's table shows the peak to one decimal: 1.04 reads "1.0", and the sentence agrees with it
    sentence = advise(cpus=2, memory_mib=None, usage=usage(0.1, 1.04), at_once=2, cores_at_once=2)
    assert sentence == "2 CPUs and 2 rules at once, but never more than 1.0 CPUs busy: `--cpus 1` would do."


def test_a_peak_between_is_about_right() -> None:
    sentence = advise(cpus=2, memory_mib=None, usage=usage(0.1, 1.5), at_once=2, cores_at_once=2)
    assert sentence == "2 CPUs, at most 1.5 busy: about right."


def test_without_a_measurement_it_says_so() -> None:
    assert advise(cpus=None, memory_mib=None, usage=None, at_once=0) == (
        "No measurement of this run's use was available, so there is no advice on its resources."
    )


def test_the_measuring_line_is_read_back_and_an_unmeasured_job_gives_none() -> None:
    line = "nsclient-usage: cgroup=v1 wall_s=120 cpu_s=200 peak_cpus_milli=2500 peak_memory_bytes=3221225472"
    measured = parse_usage_line(line)
    assert measured is not None
    assert (measured.cgroup, measured.peak_cpus, measured.peak_memory_bytes) == ("v1", 2.5, 3 * GIB)
    assert measured.average_cpus == 200 / 120
    assert parse_usage_line(line.replace("cgroup=v1", "cgroup=none")) is None


HEADER = (
    "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\t"
    "jobid\trule_name\twildcards\tparams\tthreads\tcpu_usage\tresources\tinput_size_mb"
)


def test_each_rules_peak_and_cpu_time_from_its_benchmark_files() -> None:
    files = [
        (
            "align",
            f"{HEADER}\n12.5\t0:00:12\t812.3\t900\t800\t805\t1\t2\t150\t18.75\t3\talign\t{{}}\t{{}}\t2\t0\t{{}}\t{{}}\n",
        ),
        (
            "align",
            f"{HEADER}\n20.0\t0:00:20\t1024.0\t1100\t1000\t1001\t1\t2\t180\t36.0\t4\talign\t{{}}\t{{}}\t2\t0\t{{}}\t{{}}\n",
        ),
        ("tree", f"{HEADER}\n0.2\t0:00:00\tNA\tNA\tNA\tNA\tNA\tNA\tNA\tNA\t5\ttree\t{{}}\t{{}}\t1\t0\t{{}}\t{{}}\n"),
    ]
    [align] = rule_usage(files)  # tree ran too briefly to be measured
    assert (align.rule, align.jobs, align.peak_rss_mib) == ("align", 2, 1024.0)
    assert (align.cpu_seconds, align.longest_seconds) == (54.75, 20.0)
