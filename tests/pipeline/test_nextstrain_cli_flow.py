"""A team member with only the Nextstrain guide's three policies runs a build the way
`nextstrain build --aws-batch` does, against the local backend under strict IAM: HeadBucket on the jobs
bucket first (the CLI's bucket check, through s3fs), the workdir uploaded, the job submitted to the team's
queue with the team's definition and no region of its own, its log read, its results downloaded and the
workdir deleted."""

from __future__ import annotations

import io
import time
import uuid
import zipfile
from typing import TYPE_CHECKING, Any

from nsclient.local import nextstrain_guide
from nsclient.local.principals import create_user
from nsclient_common.settings import DEFAULT_JOB_DEFINITION, DEFAULT_JOB_QUEUE
from nsclient_common.submitjob import BUILD_DIR, ENTRYPOINT, WORKDIR_URL_VAR
from tests.support import SNAKEFILE_OK, zip_bytes

if TYPE_CHECKING:
    from tests.support import Backend

TIMEOUT = 120


def test_a_team_member_runs_a_build_as_the_nextstrain_cli_does(local_backend: Backend) -> None:
    member = create_user(local_backend.client("iam"), f"member-{uuid.uuid4().hex[:6]}", [nextstrain_guide.USERS_GROUP])
    s3, batch, logs = (local_backend.client_as(service, member) for service in ("s3", "batch", "logs"))
    bucket, run_id = nextstrain_guide.JOBS_BUCKET, f"cli-{uuid.uuid4()}"
    workdir = f"{run_id}.zip"

    s3.head_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key=workdir, Body=zip_bytes({"Snakefile": SNAKEFILE_OK}))
    job = batch.submit_job(
        jobName=run_id,
        jobQueue=DEFAULT_JOB_QUEUE,
        jobDefinition=DEFAULT_JOB_DEFINITION,
        containerOverrides={
            "command": [ENTRYPOINT, "env", "--chdir", BUILD_DIR, "--", "snakemake", "--cores", "1"],
            "environment": [{"name": WORKDIR_URL_VAR, "value": f"s3://{bucket}/{workdir}"}],
        },
    )
    described = _wait_for_job(batch, job["jobId"])
    assert described["status"] == "SUCCEEDED", described.get("statusReason")

    events = logs.get_log_events(
        logGroupName=nextstrain_guide.LOG_GROUP,
        logStreamName=described["container"]["logStreamName"],
        startFromHead=True,
    )["events"]
    assert "the build ran" in [event["message"] for event in events]

    assert s3.head_object(Bucket=bucket, Key=workdir)["ContentLength"] > 0
    returned = s3.get_object(Bucket=bucket, Key=workdir)["Body"].read()
    with zipfile.ZipFile(io.BytesIO(returned)) as archive:
        assert archive.read("results/out.txt") == b"built\n"
    s3.delete_object(Bucket=bucket, Key=workdir)


def _wait_for_job(batch: Any, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        described: dict[str, Any] = batch.describe_jobs(jobs=[job_id])["jobs"][0]
        if described["status"] in ("SUCCEEDED", "FAILED"):
            return described
        time.sleep(0.3)
    raise TimeoutError(f"job {job_id} did not end in {TIMEOUT} s")
