"""While a Spot reclaim's rerun runs on the on-demand queue, a person's `status` and `logs --follow` show
the rerun's job and its log, not the first job's (which the record's queue alone would find).

The real state machine reruns the build: the local runtime ends the first job as a reclaimed Spot host
would (tests.faults.JobFault.host_terminated, on the Spot queue only), and the rerun is held RUNNING
until the test releases it.
"""

from __future__ import annotations

import tempfile
import uuid
from typing import TYPE_CHECKING, Any

import pytest

from tests.client.helpers import aws_machine
from tests.faults import JobFault
from tests.pipeline.test_faults import SPOT_QUEUE, configure_on_demand_queue
from tests.support import ON_DEMAND_QUEUE, wait_until, written_so_far, zip_bytes

if TYPE_CHECKING:
    from pathlib import Path

    from nsclient.local.runtime import LocalRuntime
    from tests.faults import JobFaults
    from tests.support import Backend

TIMEOUT = 150
# Says which Batch job runs it, then waits for the test's barrier file.
SNAKEFILE_HELD_JOB = """\
rule all:
    input: "results/released.txt"

rule hold:
    output: "results/released.txt"
    shell:
        "echo running as job $AWS_BATCH_JOB_ID; "
        "for i in $(seq 1200); do [ -e '{barrier}' ] && break; sleep 0.2; done; "
        "echo released | tee {{output}}"
"""


def rerun_job(backend: Backend, run_id: str) -> dict[str, Any] | None:
    """The run's job on the on-demand queue once it runs, as the admin looking on sees it."""
    batch = backend.client("batch")
    summaries = batch.list_jobs(jobQueue=ON_DEMAND_QUEUE, filters=[{"name": "JOB_NAME", "values": [run_id]}])
    running = [s for s in summaries["jobSummaryList"] if s["status"] == "RUNNING"]
    return running[0] if running else None


@pytest.mark.slow
def test_status_and_logs_follow_show_the_reruns_job(
    local_backend: Backend, local_runtime: LocalRuntime, job_faults: JobFaults, tmp_path: Path
) -> None:
    barrier = tmp_path / "release"
    person = aws_machine(tmp_path / "home", local_backend)  # in the stack's users group
    name = f"spot-rerun-view-{uuid.uuid4().hex[:6]}"
    with pytest.MonkeyPatch.context() as patch:
        configure_on_demand_queue(local_backend, local_runtime, patch)
        reclaim = JobFault.host_terminated(f"{name}-", queue=SPOT_QUEUE)
        patch.setattr(job_faults, "faults", [*job_faults.faults, reclaim])
        run_id = local_backend.upload_as(
            local_backend.user, zip_bytes({"Snakefile": SNAKEFILE_HELD_JOB.format(barrier=barrier)}), name=name
        )
        out, err = tempfile.TemporaryFile("w+"), tempfile.TemporaryFile("w+")
        try:
            rerun = wait_until(
                lambda: rerun_job(local_backend, run_id), timeout=TIMEOUT, what="the build ran again on demand"
            )

            status = person("status", run_id, "--json")
            following = person.popen("logs", "--follow", run_id, stdout=out, stderr=err)
            # Released only once the follower shows the held job: it follows a running run
            wait_until(
                lambda: f"running as job {rerun['jobId']}" in written_so_far(out),
                timeout=TIMEOUT,
                what="logs --follow showed the rerun's job",
            )
        finally:
            barrier.touch()
        code = following.wait(TIMEOUT)
        record = local_backend.wait_for_record(run_id, timeout=TIMEOUT)

    assert status.code == 0, status.err
    shown = status.json()
    assert (shown["status"], shown["job_id"]) == ("RUNNING", rerun["jobId"])
    out.seek(0)
    err.seek(0)
    log, messages = out.read().splitlines(), err.read().splitlines()
    assert code == 0, messages
    assert f"running as job {rerun['jobId']}" in log  # the rerun's own stream
    assert "released" in log
    assert messages[-1].startswith(f"Run {run_id} SUCCEEDED after ")
    assert record.status == "SUCCEEDED" and record.job_queue == ON_DEMAND_QUEUE
