"""Which backend a command talks to, and the AWS clients to reach it.

`local` is the local backend on 127.0.0.1 (started on demand); `aws` is a deployed stack,
configured by `nsclient setup --stack NAME`. With neither chosen nor configured: local.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.exceptions import NoCredentialsError

from nsclient import config
from nsclient.awsclients import aws_client
from nsclient.errors import UserError
from nsclient_common.runid import execution_arn
from nsclient_common.settings import NOTIFY_ALLOWED_NONE, Limits

BACKENDS = ("local", "aws")


@dataclass(frozen=True)
class Backend:
    kind: str
    bucket: str
    region: str
    state_machine_arn: str | None = None
    topic_arn: str | None = None
    endpoint_url: str | None = None
    job_queue: str | None = None
    outbox: str | None = None
    # What a run may ask for, as the deployment publishes it; None when it does not (a stack set up before).
    limits: Limits | None = None
    # The local backend's user keys (an IAM user in the stack's users group).
    access_key_id: str = "local"
    secret_access_key: str = "local"
    _identity: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def caller_id(self) -> str:
        """Who is calling, as IAM names them in policies (aws:userid, GetCallerIdentity's UserId): the
        name of their own folders in the bucket. Asked once per backend (GetCallerIdentity needs no
        permission)."""
        if "userid" not in self._identity:
            self._identity["userid"] = str(self.client("sts").get_caller_identity()["UserId"])
        return self._identity["userid"]

    def client(self, service: str) -> Any:
        """The process's one client for this service (boto3-stubs types clients per literal service name;
        this takes any)."""
        if self.endpoint_url:
            return aws_client(service, self.region, self.endpoint_url, self.access_key_id, self.secret_access_key)
        return aws_client(service, self.region)

    def execution_arn(self, run_id: str) -> str:
        if not self.state_machine_arn:
            raise UserError(
                """
                The state machine of this backend is not configured, so the run's execution can't be found.
                Run `nsclient setup --stack NAME` (or set [nsclient] state-machine in ~/.nextstrain/config).
                """
            )
        return execution_arn(self.state_machine_arn, run_id)


def chosen_kind(option: str | None) -> str:
    setting = config.resolve("nsclient", "backend", option)
    if setting.value:
        if setting.value not in BACKENDS:
            raise UserError(
                f"Unknown backend {setting.value!r} (from {setting.source}): use one of {', '.join(BACKENDS)}."
            )
        return setting.value
    configured = config.value("nsclient", "state-machine") or config.value("nsclient", "stack")
    return "aws" if configured else "local"


def connect(option: str | None, *, start_local: bool = True) -> Backend:
    kind = chosen_kind(option)
    if kind == "local":
        from nsclient.local import control

        state = control.ensure_running() if start_local else control.running_state()
        if state is None:
            raise UserError("The local backend is not running. Start it with `nsclient local start`.")
        keys = state.get("credentials") or {}
        return Backend(
            kind="local",
            bucket=state["bucket"],
            region=state["region"],
            state_machine_arn=state["state_machine_arn"],
            topic_arn=state["topic_arn"],
            endpoint_url=state["endpoint_url"],
            job_queue=state["job_queue"],
            outbox=state["outbox"],
            limits=Limits.model_validate(state["limits"]) if state.get("limits") else None,
            access_key_id=keys.get("access_key_id", "local"),
            secret_access_key=keys.get("secret_access_key", "local"),
        )
    # Never [aws-batch] s3-bucket: that is the Nextstrain CLI's jobs bucket, not the stack's builds bucket.
    bucket = config.value("nsclient", "bucket")
    if not bucket:
        raise UserError(
            """
            No builds bucket is configured for the aws backend.
            Run `nsclient setup --stack NAME` after `sam deploy`, or set NSCLIENT_BUCKET.
            """
        )
    region = config.value("nsclient", "region") or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    return Backend(
        kind="aws",
        bucket=bucket.removeprefix("s3://").split("/", 1)[0],
        region=region or boto3.session.Session().region_name or "us-east-1",
        state_machine_arn=config.value("nsclient", "state-machine"),
        topic_arn=config.value("nsclient", "topic"),
        job_queue=config.value("nsclient", "queue"),
        limits=configured_limits(),
    )


def configured_limits() -> Limits | None:
    """The stack's limits, as `nsclient setup` saved them from its outputs."""
    cpus, memory = config.value("nsclient", "max-cpus"), config.value("nsclient", "max-memory-mib")
    if not (cpus and memory and cpus.isdigit() and memory.isdigit()):
        return None
    allowed = config.value("nsclient", "notify-allowed")
    return Limits(
        max_cpus=int(cpus),
        max_memory_mib=int(memory),
        notify_allowed=None if allowed is None else ("" if allowed == NOTIFY_ALLOWED_NONE else allowed),
    )


def describe_aws_error(error: Exception) -> str:
    if isinstance(error, NoCredentialsError):
        return "No AWS credentials were found. Configure them (aws configure, or AWS_PROFILE) or use --backend local."
    return str(error)


def dumps(data: Any) -> str:
    return json.dumps(data, indent=2, default=str)
