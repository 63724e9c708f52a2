"""The Batch job contract of the Nextstrain CLI, so a stock `nextstrain-job` definition and the
`nextstrain/base` image run our builds unchanged.

The image's /sbin/entrypoint-aws-batch downloads NEXTSTRAIN_AWS_BATCH_WORKDIR_URL, unzips it in
/nextstrain/build, runs the command, and zips the results back to the same URL. Before that, the
image's entrypoint exports the variables of the env.d zip at NEXTSTRAIN_ENVD_URL and, with
NEXTSTRAIN_DELETE_ENVD, deletes the zip: a build's own variables (secrets among them) travel in S3,
never in the job request, where DescribeJobs and the execution history would show them.
Its `aws s3` commands need a region, which the job is given as AWS_DEFAULT_REGION.
The build's command runs under a short shell script that measures what the job used (usage.py).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from nsclient_common.usage import wrap_command

if TYPE_CHECKING:
    from nsclient_common.request import BuildRequest

ENTRYPOINT = "/sbin/entrypoint-aws-batch"
BUILD_DIR = "/nextstrain/build"
WORKDIR_URL_VAR = "NEXTSTRAIN_AWS_BATCH_WORKDIR_URL"
ENVD_URL_VAR = "NEXTSTRAIN_ENVD_URL"
DELETE_ENVD_VAR = "NEXTSTRAIN_DELETE_ENVD"
REGION_VAR = "AWS_DEFAULT_REGION"
# Set by us for every job; a build's own variables may not replace them (the region they may).
RESERVED_VARIABLES = frozenset({WORKDIR_URL_VAR, ENVD_URL_VAR, DELETE_ENVD_VAR})
DEFAULT_SNAKEMAKE_ARGS = ("--printshellcmds", "--rerun-incomplete")
# The spellings snakemake's parser takes for these options, unambiguous prefixes included (as the
# Nextstrain CLI lists them), plus snakemake 8's -c. snakemake takes the last one given, so one of
# the user's must keep ours out.
_CORES_OPTIONS = frozenset({"--cores", "--core", "--cor", "--jobs", "-j", "-c"})
_RESOURCES_OPTIONS = frozenset({"--resources", "--resource", "--resourc", "--resour", "--resou", "--reso", "--res"})
_SHORT_WITH_VALUE = re.compile(r"^(-[jc])\S+$")  # -j8, -c4, -call


def _option_names(args: list[str]) -> set[str]:
    names = set()
    for arg in args:
        name = arg.split("=", 1)[0]
        short = _SHORT_WITH_VALUE.match(name)
        names.add(short[1] if short else name)
    return names


def _gives(args: list[str], options: frozenset[str]) -> bool:
    return bool(_option_names(args) & options)


def snakemake_command(request: BuildRequest) -> list[str]:
    """snakemake's argv: the user's args, then --cores/--resources to match the request, as
    `nextstrain build --cpus --memory` adds them (unless the user already chose)."""
    args = list(request.snakemake_args)
    if not _gives(args, _CORES_OPTIONS):
        args.append(f"--cores={request.cpus}" if request.cpus else "--cores=all")
    if request.memory_mib and not _gives(args, _RESOURCES_OPTIONS):
        args.append(f"--resources=mem_mb={request.memory_mib}")
    return ["snakemake", *args, *DEFAULT_SNAKEMAKE_ARGS]


def job_environment(*, workdir_url: str, region: str, envd_url: str | None = None) -> list[dict[str, str]]:
    """The job's environment: where its workdir and variables are, and its region. No values of the
    build's own variables: those are read from the env.d zip inside the job."""
    variables = {WORKDIR_URL_VAR: workdir_url, REGION_VAR: region}
    if envd_url:
        variables |= {ENVD_URL_VAR: envd_url, DELETE_ENVD_VAR: "1"}
    return [{"Name": name, "Value": value} for name, value in variables.items()]


def submit_job_parameters(
    request: BuildRequest,
    *,
    job_name: str,
    job_queue: str,
    job_definition: str,
    workdir_url: str,
    region: str,
    envd_url: str | None = None,
) -> dict[str, Any]:
    """The SubmitJob request, cased as Step Functions' batch:submitJob takes it."""
    resources = []
    if request.cpus:
        resources.append({"Type": "VCPU", "Value": str(request.cpus)})
    if request.memory_mib:
        resources.append({"Type": "MEMORY", "Value": str(request.memory_mib)})
    return {
        "JobName": job_name,
        "JobQueue": job_queue,
        "JobDefinition": job_definition,
        "ContainerOverrides": {
            "Command": [ENTRYPOINT, "env", "--chdir", BUILD_DIR, "--", *wrap_command(snakemake_command(request))],
            "Environment": job_environment(workdir_url=workdir_url, region=region, envd_url=envd_url),
            "ResourceRequirements": resources,
        },
    }
