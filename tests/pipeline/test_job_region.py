"""Every job knows its region, as the ECS agent tells a container (AWS_REGION and AWS_DEFAULT_REGION,
unless the job sets them itself): a job another tool submits, without a region of its own (as
`nextstrain build --aws-batch` does), reaches S3 with the AWS CLI's defaults."""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.support import Backend

# What the job's command prints: each variable, or "unset".
REPORT = 'echo "AWS_REGION=${AWS_REGION:-unset} AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-unset}"'


def _job_output(backend: Backend, environment: list[dict[str, str]], timeout: float = 60) -> str:
    """Submit a job to the stack's queue with this environment, wait for it to end, and read its log."""
    batch = backend.client("batch")
    job = batch.submit_job(
        jobName=f"region-{uuid.uuid4().hex[:8]}",
        jobQueue=backend.info.job_queue,
        jobDefinition=backend.info.job_definition,
        containerOverrides={"command": ["sh", "-c", REPORT], "environment": environment},
    )
    deadline = time.monotonic() + timeout
    described: dict[str, Any] = {}
    while time.monotonic() < deadline:
        described = batch.describe_jobs(jobs=[job["jobId"]])["jobs"][0]
        if described["status"] in ("SUCCEEDED", "FAILED"):
            break
        time.sleep(0.2)
    assert described.get("status") == "SUCCEEDED", described
    container = described["container"]
    group = (container.get("logConfiguration") or {}).get("options", {}).get("awslogs-group", "/aws/batch/job")
    events = backend.client("logs").get_log_events(
        logGroupName=group, logStreamName=container["logStreamName"], startFromHead=True
    )["events"]
    return "\n".join(event["message"] for event in events)


def test_a_job_without_a_region_gets_the_queues(local_backend: Backend) -> None:
    region = local_backend.info.region
    assert f"AWS_REGION={region} AWS_DEFAULT_REGION={region}" in _job_output(local_backend, [])


def test_a_jobs_own_region_comes_first(local_backend: Backend) -> None:
    output = _job_output(local_backend, [{"name": "AWS_DEFAULT_REGION", "value": "eu-west-1"}])
    assert f"AWS_REGION={local_backend.info.region} AWS_DEFAULT_REGION=eu-west-1" in output
