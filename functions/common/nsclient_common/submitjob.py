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

from nsclient_common.usage import SCRIPT_VAR, script_environment, wrap_command

if TYPE_CHECKING:
    from nsclient_common.request import BuildRequest

ENTRYPOINT = "/sbin/entrypoint-aws-batch"
BUILD_DIR = "/nextstrain/build"
WORKDIR_URL_VAR = "NEXTSTRAIN_AWS_BATCH_WORKDIR_URL"
ENVD_URL_VAR = "NEXTSTRAIN_ENVD_URL"
DELETE_ENVD_VAR = "NEXTSTRAIN_DELETE_ENVD"
REGION_VAR = "AWS_DEFAULT_REGION"
# Set by us for every job; a build's own variables may not replace them (the region they may).
RESERVED_VARIABLES = frozenset({WORKDIR_URL_VAR, ENVD_URL_VAR, DELETE_ENVD_VAR, SCRIPT_VAR})
# The Nextstrain CLI's snakemake defaults, after the user's arguments; --benchmark-extended only on an
# image that has a snakemake taking it (the CLI's IMAGE_FEATURE.benchmark_extended: latest, or a
# build tag from that one on).
BENCHMARK_EXTENDED = "--benchmark-extended"
BENCHMARK_EXTENDED_SINCE = "build-20250717T164950Z"
# The spellings snakemake's parser takes for these options, unambiguous prefixes included, as the
# Nextstrain CLI lists them. Arguments after `--` are not options.
_CORES_OPTIONS = frozenset({"--cores", "--core", "--cor", "--jobs", "-j"})
_RESOURCES_OPTIONS = frozenset({"--resources", "--resource", "--resourc", "--resour", "--resou", "--reso", "--res"})
_JOBS_WITH_VALUE = re.compile(r"^-j\d+$")  # -j8


def _options(args: list[str]) -> list[str]:
    return args[: args.index("--")] if "--" in args else args


def _gives_cores(args: list[str]) -> bool:
    names = {"-j" if _JOBS_WITH_VALUE.match(arg) else arg.split("=", 1)[0] for arg in _options(args)}
    return bool(names & _CORES_OPTIONS)


def _resources(args: list[str]) -> tuple[int, int, list[str]] | None:
    """The last --resources option (snakemake takes the last): its index, the end of its values, the values."""
    options, found, index = _options(args), None, 0
    while index < len(options):
        flag, _, inline = options[index].partition("=")
        if flag not in _RESOURCES_OPTIONS:
            index += 1
            continue
        end = index + 1
        if not inline:
            while end < len(options) and not options[end].startswith("-"):
                end += 1
        found = (index, end, [inline] if inline else options[index + 1 : end])
        index = end
    return found


def _with_memory(args: list[str], memory_mib: int) -> list[str]:
    """mem_mb added as `nextstrain build --memory` adds it: to the user's own --resources if they give
    some (unless mem_mb is among them, or they are inline `--resources=a=1`, which it can't extend)."""
    resource = f"mem_mb={memory_mib}"
    found = _resources(args)
    if found is None:
        end = args.index("--") if "--" in args else len(args)
        return [*args[:end], f"--resources={resource}", *args[end:]]
    index, end, values = found
    if any(value.partition("=")[0] == "mem_mb" for value in values) or "=" in args[index]:
        return args
    return [*args[:end], resource, *args[end:]]


def supports_benchmark_extended(image: str | None) -> bool:
    """Whether the job's image takes --benchmark-extended, judged by its tag as the Nextstrain CLI does
    (no image: the job definition's, the stock latest)."""
    tag = (image or "nextstrain/base").rpartition("/")[2].partition("@")[0].partition(":")[2] or "latest"
    return tag == "latest" or (tag.startswith("build-") and tag >= BENCHMARK_EXTENDED_SINCE)


def snakemake_command(request: BuildRequest) -> list[str]:
    """snakemake's argv as `nextstrain build --cpus --memory` makes it: the user's args with --cores
    (unless they chose) and mem_mb (unless they chose) added, then the CLI's defaults."""
    args = list(request.snakemake_args)
    if not _gives_cores(args):
        args.append(f"--cores={request.cpus}" if request.cpus else "--cores=all")
    if request.memory_mib:
        args = _with_memory(args, request.memory_mib)
    benchmark = [BENCHMARK_EXTENDED] if supports_benchmark_extended(request.image) else []
    return ["snakemake", *args, "--printshellcmds", *benchmark, "--rerun-incomplete"]


def job_environment(*, workdir_url: str, region: str, envd_url: str | None = None) -> list[dict[str, str]]:
    """The job's environment: where its workdir and variables are, its region and the measuring script.
    No values of the build's own variables: those are read from the env.d zip inside the job."""
    variables = {WORKDIR_URL_VAR: workdir_url, REGION_VAR: region, **script_environment()}
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
