"""The backend's settings, read once from the function environment (template Globals)."""

from __future__ import annotations

import os

from pydantic import BaseModel


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


class Settings(BaseModel):
    bucket: str
    topic_arn: str = ""
    job_queue: str = "nextstrain-job-queue"
    job_definition: str = "nextstrain-job"
    on_demand_job_queue: str = ""
    state_machine_arn: str = ""
    notify_from: str = ""
    outbox_dir: str = ""
    # How the cost estimate prices a job (cost.rates_for): on-demand, spot or VCPU_HOUR_USD/GIB_HOUR_USD,
    # for the family of the first of the compute environment's instance types.
    cost_rates: str = "on-demand"
    instance_types: str = "optimal"
    limits: Limits = Limits()

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)

        def pick(name: str) -> dict[str, str]:
            return {name.lower(): env[name]} if env.get(name) else {}

        limits = {}
        for name in (
            "MAX_UPLOAD_BYTES",
            "MAX_UNCOMPRESSED_BYTES",
            "MAX_COMPRESSION_RATIO",
            "MAX_CPUS",
            "MAX_MEMORY_MIB",
            "COMPUTE_MAX_VCPUS",
        ):
            limits.update(pick(name))
        fields: dict[str, object] = {"bucket": env.get("BUCKET_NAME", ""), "limits": Limits.model_validate(limits)}
        fields.update(pick("TOPIC_ARN") | pick("JOB_QUEUE") | pick("JOB_DEFINITION") | pick("ON_DEMAND_JOB_QUEUE"))
        fields.update(pick("STATE_MACHINE_ARN") | pick("NOTIFY_FROM") | pick("OUTBOX_DIR"))
        fields.update(pick("COST_RATES") | pick("INSTANCE_TYPES"))
        return cls.model_validate(fields)
