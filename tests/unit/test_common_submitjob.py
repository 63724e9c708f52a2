"""The Batch job request: the Nextstrain CLI's job contract, and snakemake's resource options."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from nsclient_common.request import BuildRequest
from nsclient_common.submitjob import snakemake_command, submit_job_parameters
from nsclient_common.usage import MEASURE_SCRIPT

DEFAULTS = ["--printshellcmds", "--benchmark-extended", "--rerun-incomplete"]


def test_snakemake_command_matches_the_requested_cpus_and_memory() -> None:
    command = snakemake_command(BuildRequest(cpus=2, memory_mib=1024))
    assert command == ["snakemake", "--cores=2", "--resources=mem_mb=1024", *DEFAULTS]


def test_snakemake_command_uses_all_cores_when_no_cpus_are_asked_for() -> None:
    assert snakemake_command(BuildRequest()) == ["snakemake", "--cores=all", *DEFAULTS]


@pytest.mark.parametrize(
    "user_args",
    [
        ["--cores", "4"],
        ["--cores=4"],
        ["--core=4"],
        ["--cor", "4"],
        ["--jobs", "4"],
        ["--jobs=4"],
        ["-j", "4"],
        ["-j4"],
    ],
)
def test_snakemake_command_keeps_the_users_own_cores_option(user_args: list[str]) -> None:
    # Given a build asking for 8 cpus whose snakemake args already set the cores
    request = BuildRequest(cpus=8, snakemake_args=user_args)

    # When the command is made
    command = snakemake_command(request)

    # Then the user's choice is the only one (snakemake takes the last one given, so ours would win)
    assert command == ["snakemake", *user_args, *DEFAULTS]


@pytest.mark.parametrize(
    "user_args",
    [
        ["--resources", "mem_mb=500"],
        ["--resources=mem_mb=500"],
        ["--res", "mem_mb=500"],
        ["--res=mem_mb=500"],
        ["--resource=mem_mb=500"],  # an unambiguous prefix, which snakemake's parser accepts
    ],
)
def test_snakemake_command_keeps_the_users_own_resources_option(user_args: list[str]) -> None:
    command = snakemake_command(BuildRequest(cpus=2, memory_mib=4096, snakemake_args=user_args))
    assert command == ["snakemake", *user_args, "--cores=2", *DEFAULTS]
    assert not any("mem_mb=4096" in arg for arg in command)


@pytest.mark.parametrize(
    "user_args",
    [["--forceall"], ["--config", "jobs=2"], ["--set-resources", "align:mem_mb=100"], ["-n"], ["results/cores.txt"]],
)
def test_snakemake_command_is_not_fooled_by_lookalike_arguments(user_args: list[str]) -> None:
    command = snakemake_command(BuildRequest(cpus=2, memory_mib=1024, snakemake_args=user_args))
    assert command == ["snakemake", *user_args, "--cores=2", "--resources=mem_mb=1024", *DEFAULTS]


def test_snakemake_command_appends_the_defaults_last_after_user_targets() -> None:
    command = snakemake_command(BuildRequest(cpus=1, snakemake_args=["--forceall", "all"]))
    assert command == ["snakemake", "--forceall", "all", "--cores=1", *DEFAULTS]
    assert command[-3:] == DEFAULTS


@pytest.mark.parametrize(
    ("user_args", "expected"),
    [
        # Other resources: mem_mb joins the last --resources option, which snakemake takes.
        (["--resources", "gpu=1"], ["--resources", "gpu=1", "mem_mb=1024", "--cores=2"]),
        # Its values run to the next option, so a target right after them reads as one too (as in the CLI).
        (["--res", "a=1", "b=2", "all"], ["--res", "a=1", "b=2", "all", "mem_mb=1024", "--cores=2"]),
        (
            ["--resources", "a=1", "--resources", "b=2"],
            ["--resources", "a=1", "--resources", "b=2", "mem_mb=1024", "--cores=2"],
        ),
        # Inline resources can't be extended without changing what follows: left as given.
        (["--resources=gpu=1"], ["--resources=gpu=1", "--cores=2"]),
        # After `--` nothing is an option: ours go before it (cores at the very end, as the CLI puts it).
        (["--", "--resources", "a=1"], ["--resources=mem_mb=1024", "--", "--resources", "a=1", "--cores=2"]),
        # -c is not one of the CLI's cores spellings: it adds --cores, which snakemake takes last.
        (["-c4"], ["-c4", "--cores=2", "--resources=mem_mb=1024"]),
    ],
)
def test_snakemake_command_adds_memory_and_cores_as_nextstrain_build_does(
    user_args: list[str], expected: list[str]
) -> None:
    command = snakemake_command(BuildRequest(cpus=2, memory_mib=1024, snakemake_args=user_args))
    assert command == ["snakemake", *expected, *DEFAULTS]


@pytest.mark.parametrize(
    ("image", "benchmark_extended"),
    [
        (None, True),
        ("nextstrain/base", True),
        ("nextstrain/base:latest", True),
        ("registry.example.org:5000/nextstrain/base:build-20250717T164950Z", True),
        ("nextstrain/base:build-20250101T000000Z", False),
        ("example/snakemake:8", False),
    ],
)
def test_snakemake_command_asks_for_extended_benchmarks_only_where_the_image_has_them(
    image: str | None, benchmark_extended: bool
) -> None:
    command = snakemake_command(BuildRequest(image=image))
    assert ("--benchmark-extended" in command) is benchmark_extended
    assert command[-1] == "--rerun-incomplete"


def test_submit_job_parameters_follow_the_nextstrain_cli_job_contract() -> None:
    # Given a build asking for 2 cpus and 1 GiB
    request = BuildRequest(cpus=2, memory_mib=1024)

    # When the SubmitJob request is made
    job = submit_job_parameters(
        request,
        job_name="run-1-0123456789",
        job_queue="nextstrain-job-queue",
        job_definition="nextstrain-job",
        workdir_url="s3://bucket/runs/run-1-0123456789/workdir.zip",
        region="eu-west-1",
    )

    # Then the image's entrypoint runs snakemake in /nextstrain/build on the workdir zip, sized as asked,
    # in the region its `aws s3` commands need, under the shell script that measures what the job used
    assert job["JobName"] == "run-1-0123456789"
    assert job["JobQueue"] == "nextstrain-job-queue"
    assert job["JobDefinition"] == "nextstrain-job"
    overrides = job["ContainerOverrides"]
    assert overrides["Command"] == [
        "/sbin/entrypoint-aws-batch",
        "env",
        "--chdir",
        "/nextstrain/build",
        "--",
        "sh",
        "-c",
        'eval "$NSCLIENT_USAGE_SCRIPT"',
        "nsclient-usage",
        "snakemake",
        "--cores=2",
        "--resources=mem_mb=1024",
        *DEFAULTS,
    ]
    assert overrides["Environment"] == [
        {"Name": "NEXTSTRAIN_AWS_BATCH_WORKDIR_URL", "Value": "s3://bucket/runs/run-1-0123456789/workdir.zip"},
        {"Name": "AWS_DEFAULT_REGION", "Value": "eu-west-1"},
        {"Name": "NSCLIENT_USAGE_SCRIPT", "Value": MEASURE_SCRIPT},
    ]
    assert overrides["ResourceRequirements"] == [{"Type": "VCPU", "Value": "2"}, {"Type": "MEMORY", "Value": "1024"}]


def test_submit_job_parameters_leave_the_job_definitions_resources_when_none_are_asked_for() -> None:
    job = submit_job_parameters(
        BuildRequest(),
        job_name="r",
        job_queue="q",
        job_definition="d",
        workdir_url="s3://b/runs/r/workdir.zip",
        region="us-east-1",
    )
    assert job["ContainerOverrides"]["ResourceRequirements"] == []


def test_submit_job_parameters_point_the_job_at_its_variables_without_their_values() -> None:
    # Given a build that sent environment variables, moved to the run's env.d.zip
    envd_url = "s3://b/runs/r/env.d.zip"

    # When the SubmitJob request is made
    job = submit_job_parameters(
        BuildRequest(),
        job_name="r",
        job_queue="q",
        job_definition="d",
        workdir_url="s3://b/runs/r/workdir.zip",
        region="us-east-1",
        envd_url=envd_url,
    )

    # Then the job is told where they are and to delete them after reading, as the Nextstrain CLI tells it
    environment = {e["Name"]: e["Value"] for e in job["ContainerOverrides"]["Environment"]}
    assert environment == {
        "NEXTSTRAIN_AWS_BATCH_WORKDIR_URL": "s3://b/runs/r/workdir.zip",
        "AWS_DEFAULT_REGION": "us-east-1",
        "NSCLIENT_USAGE_SCRIPT": MEASURE_SCRIPT,
        "NEXTSTRAIN_ENVD_URL": envd_url,
        "NEXTSTRAIN_DELETE_ENVD": "1",
    }


def _request_fields(job: dict[str, Any]) -> set[str]:
    """Each field of a SubmitJob request as the README names it (environment variables and resource
    types one by one)."""
    overrides = job["ContainerOverrides"]
    fields = {name[0].lower() + name[1:] for name in job if name != "ContainerOverrides"}
    fields.add("containerOverrides.command")
    fields |= {f"containerOverrides.environment {e['Name']}" for e in overrides["Environment"]}
    fields |= {f"containerOverrides.resourceRequirements {r['Type']}" for r in overrides["ResourceRequirements"]}
    return fields


def _readme_fields() -> set[str]:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("### The job request, field by field", 1)[1].split("\n### ", 1)[0]
    fields = set()
    for row in section.splitlines():
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        if not row.startswith("| `") or len(cells) != 3:
            continue
        names = re.findall(r"`([^`]+)`", cells[0])
        if names[0] == "containerOverrides.environment" or names[0] == "containerOverrides.resourceRequirements":
            fields |= {f"{names[0]} {name}" for name in names[1:]}
        elif not names[0].startswith(("snakemake", "ARGS")):
            fields.add(names[0])
    return fields


def test_readme_table_names_every_field_of_the_job_request() -> None:
    # Given the fullest request: resources and variables asked for
    job = submit_job_parameters(
        BuildRequest(cpus=2, memory_mib=1024),
        job_name="r",
        job_queue="q",
        job_definition="d",
        workdir_url="s3://b/runs/r/workdir.zip",
        region="us-east-1",
        envd_url="s3://b/runs/r/env.d.zip",
    )

    # Then the README's comparison with the Nextstrain CLI covers each of its fields, and no other
    assert _readme_fields() == _request_fields(job)
