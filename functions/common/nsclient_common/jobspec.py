"""The Batch job contract of the Nextstrain CLI, so a stock `nextstrain-job` definition and the
`nextstrain/base` image run our builds unchanged.

The image's /sbin/entrypoint-aws-batch downloads NEXTSTRAIN_AWS_BATCH_WORKDIR_URL, unzips it in
/nextstrain/build, runs the command, and zips the results back to the same URL.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nsclient_common.request import BuildRequest

ENTRYPOINT = "/sbin/entrypoint-aws-batch"
BUILD_DIR = "/nextstrain/build"
WORKDIR_URL_VAR = "NEXTSTRAIN_AWS_BATCH_WORKDIR_URL"
DEFAULT_SNAKEMAKE_ARGS = ("--printshellcmds", "--rerun-incomplete")
_CORES_OPTIONS = ("--cores", "--core", "--cor", "--jobs", "-j")


def _gives(args: list[str], options: tuple[str, ...]) -> bool:
    return any(a == o or a.startswith(o + "=") or (o == "-j" and a.startswith("-j")) for a in args for o in options)


def snakemake_command(request: BuildRequest) -> list[str]:
    """snakemake's argv: the user's args, then --cores/--resources to match the request, as
    `nextstrain build --cpus --memory` adds them (unless the user already chose)."""
    args = list(request.snakemake_args)
    if not _gives(args, _CORES_OPTIONS):
        args.append(f"--cores={request.cpus}" if request.cpus else "--cores=all")
    if request.memory_mib and not _gives(args, ("--resources", "--res")):
        args.append(f"--resources=mem_mb={request.memory_mib}")
    return ["snakemake", *args, *DEFAULT_SNAKEMAKE_ARGS]


def submit_job_parameters(
    request: BuildRequest, *, job_name: str, job_queue: str, job_definition: str, workdir_url: str
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
            "Command": [ENTRYPOINT, "env", "--chdir", BUILD_DIR, "--", *snakemake_command(request)],
            "Environment": [{"Name": WORKDIR_URL_VAR, "Value": workdir_url}],
            "ResourceRequirements": resources,
        },
    }
