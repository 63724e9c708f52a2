"""The backend's settings, read and checked once per cold start from a function's environment (template
Globals). A function without its bucket fails in one sentence before it touches anything."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field, ValidationError

from nsclient_common.environment import function_environment
from nsclient_common.jobrole import JobRoleSettings

if TYPE_CHECKING:
    from collections.abc import Mapping


class SettingsError(ValueError):
    """The function's environment lacks a setting it needs, or has one that is not valid."""


class Limits(BaseModel):
    max_upload_bytes: int = 5 * 1024**3
    max_uncompressed_bytes: int = 50 * 1024**3
    max_compression_ratio: float = 100.0
    max_members: int = 200_000
    max_cpus: int = 64
    # The created compute environment's MaxvCpus (None with an existing one, whose size is not ours to know):
    # a job asking for more would wait RUNNABLE until cancelled, so it is refused up front instead.
    compute_max_vcpus: int | None = None

    @property
    def accepted_cpus(self) -> int:
        """The most cpus a run may ask for: the deployment's limit, and no more than the compute environment runs."""
        return min(self.max_cpus, self.compute_max_vcpus or self.max_cpus)

    max_memory_mib: int = 768 * 1024
    # The addresses the stack emails a notice to directly (request.notify_refusal): domains and addresses,
    # comma-separated, or *; empty, none. None: not published (a stack from before), so the backend judges.
    notify_allowed: str | None = None


# The stack's NotifyAllowed output when the parameter is empty (an output cannot be): no address.
NOTIFY_ALLOWED_NONE = "none"

# Cpus and memory no request reaches: for reading a request's fields apart from any deployment's limits
# (2**53, JSON's largest exact integer in every language that reads it).
UNLIMITED = Limits(max_cpus=2**53, max_memory_mib=2**53)


# Each setting's environment variable (an empty value means "the default").
LIMIT_VARIABLES = {
    "max_upload_bytes": "MAX_UPLOAD_BYTES",
    "max_uncompressed_bytes": "MAX_UNCOMPRESSED_BYTES",
    "max_compression_ratio": "MAX_COMPRESSION_RATIO",
    "max_cpus": "MAX_CPUS",
    "max_memory_mib": "MAX_MEMORY_MIB",
    "compute_max_vcpus": "COMPUTE_MAX_VCPUS",
    "notify_allowed": "NOTIFY_ALLOWED",
}
SETTING_VARIABLES = {
    "bucket": "BUCKET_NAME",
    "topic_arn": "TOPIC_ARN",
    "job_queue": "JOB_QUEUE",
    "job_definition": "JOB_DEFINITION",
    "on_demand_job_queue": "ON_DEMAND_JOB_QUEUE",
    "state_machine_arn": "STATE_MACHINE_ARN",
    "notify_from": "NOTIFY_FROM",
    "outbox_dir": "OUTBOX_DIR",
    "local_toolchain": "LOCAL_TOOLCHAIN",
    # Lambda's own: the function's region, which is the bucket's (a job is told it for its downloads).
    "region": "AWS_REGION",
    "cost_rates": "COST_RATES",
    "instance_types": "INSTANCE_TYPES",
    "job_role_path": "JOB_ROLE_PATH",
    "job_role_boundary_arn": "JOB_ROLE_BOUNDARY_ARN",
    "job_role_settle_seconds": "JOB_ROLE_SETTLE_SECONDS",
}


# A team's existing Batch setup as the Nextstrain CLI's AWS Batch guide names it: the stack's defaults (its
# JobQueue and JobDefinition parameters, tested equal) and the client's when no stack is configured.
DEFAULT_JOB_QUEUE = "nextstrain-job-queue"
DEFAULT_JOB_DEFINITION = "nextstrain-job"


class Settings(BaseModel):
    bucket: str = Field(min_length=1)
    topic_arn: str = ""
    job_queue: str = DEFAULT_JOB_QUEUE
    job_definition: str = DEFAULT_JOB_DEFINITION
    on_demand_job_queue: str = ""
    state_machine_arn: str = ""
    notify_from: str = ""
    outbox_dir: str = ""
    # Set by the local backend, whose jobs run this machine's snakemake rather than a container image.
    local_toolchain: bool = False
    # How the cost estimate prices a job (cost.rates_for): on-demand, spot or VCPU_HOUR_USD/GIB_HOUR_USD,
    # for the family of the first of the compute environment's instance types.
    region: str = "us-east-1"
    cost_rates: str = "on-demand"
    instance_types: str = "optimal"
    # Each person's job role (jobrole.py): made under this IAM path and permissions boundary, and used once
    # IAM has had this long to make a new role known to ECS.
    job_role_path: str = "/nsclient/"
    job_role_boundary_arn: str = ""
    job_role_settle_seconds: float = Field(default=10.0, ge=0)
    limits: Limits = Limits()

    def job_roles(self) -> JobRoleSettings:
        if not self.job_role_boundary_arn:
            raise SettingsError("JOB_ROLE_BOUNDARY_ARN is not set: job roles are made only under the stack's boundary.")
        return JobRoleSettings(
            bucket=self.bucket,
            path=self.job_role_path,
            boundary_arn=self.job_role_boundary_arn,
            settle_seconds=self.job_role_settle_seconds,
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """The settings of `env` (the function's environment when None); SettingsError names what is wrong."""
        env = function_environment() if env is None else env
        if not env.get(SETTING_VARIABLES["bucket"]):
            raise SettingsError("BUCKET_NAME is not set: the function needs the name of the stack's builds bucket.")

        def given(variables: dict[str, str]) -> dict[str, str]:
            return {field: env[name] for field, name in variables.items() if env.get(name)}

        try:
            limits = Limits.model_validate(given(LIMIT_VARIABLES))
            return cls.model_validate({**given(SETTING_VARIABLES), "limits": limits})
        except ValidationError as error:
            variables = LIMIT_VARIABLES | SETTING_VARIABLES
            wrong = sorted({variables.get(str(e["loc"][-1]), str(e["loc"][-1])) for e in error.errors()})
            raise SettingsError(f"{', '.join(wrong)} in the function's environment is not valid.") from None


def current_settings() -> Settings:
    """The invoked function's settings, checked when its environment is first seen and then reused.

    On Lambda a function's environment is fixed for the container's life, so this checks it once per cold
    start; the local backend, running every function in one process, may give a function new variables
    between invocations, and those are read then. Not at import, so a handler module imports anywhere.
    """
    env = function_environment()
    return _settings_of(tuple((name, env.get(name, "")) for name in _VARIABLES))


_VARIABLES = tuple(SETTING_VARIABLES.values()) + tuple(LIMIT_VARIABLES.values())


@functools.cache
def _settings_of(variables: tuple[tuple[str, str], ...]) -> Settings:
    return Settings.from_env(dict(variables))
