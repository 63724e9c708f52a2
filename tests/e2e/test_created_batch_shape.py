"""The stack's second shape, CreateBatchEnvironment=true, end to end under strict IAM: a local
backend process deployed with that parameter, a person pushing with the CLI, the job running as the
role the stack creates and logging to the group the stack owns. (The default shape, a team's
existing Nextstrain setup, is what every pipeline and client test runs on.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from nsclient.local.daemon import DECISIONS_FILE, STATE_FILE
from nsclient.local.strict_iam import STRICT_IAM_VARIABLE, Decision
from tests.client.helpers import build_folder
from tests.support import SNAKEFILE_OK, run_nsclient, wait_until

START_TIMEOUT = 180


@pytest.fixture(scope="module")
def created_shape(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    """A local backend process deployed with the stack's own Batch setup, and a user's environment for it."""
    data_dir = tmp_path_factory.mktemp("created-shape")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_", "NSCLIENT_", "NEXTSTRAIN_"))}
    env.update({STRICT_IAM_VARIABLE: "1", "PYTHONUNBUFFERED": "1"})
    parameters = ["CreateBatchEnvironment=true", "VpcId=vpc-0123456789abcdef0", "SubnetIds=subnet-0123456789abcdef0"]
    with (data_dir / "backend.log").open("wb") as log:
        daemon = subprocess.Popen(
            [sys.executable, "-m", "nsclient.local.daemon", "--data-dir", str(data_dir)]
            + [arg for parameter in parameters for arg in ("--parameter", parameter)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:

        def started() -> bool:
            assert daemon.poll() is None, (data_dir / "backend.log").read_text()[-3000:]
            return (data_dir / STATE_FILE).exists()

        wait_until(started, timeout=START_TIMEOUT, what="the local backend started")
        user = {**env, "NEXTSTRAIN_HOME": str(data_dir / "home"), "NSCLIENT_LOCAL_DIR": str(data_dir)}
        yield data_dir, user
    finally:
        daemon.terminate()
        daemon.wait(timeout=60)


def nsclient(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run_nsclient(*args, env=env)


@pytest.mark.slow
def test_a_build_runs_on_the_batch_setup_the_stack_creates(
    created_shape: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    data_dir, user = created_shape
    state = json.loads((data_dir / STATE_FILE).read_text())
    folder = build_folder(tmp_path / "created", SNAKEFILE_OK)

    pushed = nsclient(user, "push", str(folder), "--wait")

    assert pushed.returncode == 0, pushed.stderr[-3000:]
    run_id = pushed.stdout.splitlines()[0]
    status = json.loads(nsclient(user, "status", run_id, "--json").stdout)
    assert status["status"] == "SUCCEEDED"
    # The queue and definition are the stack's own (named after its id), not the guide's
    assert state["job_queue"].startswith("nextstrain-job-queue-") and state["job_queue"] != "nextstrain-job-queue"
    assert status["job_queue"] == state["job_queue"]
    # The log is read back from the stack's own log group, which the job definition names
    assert "the build ran" in nsclient(user, "logs", run_id).stdout
    pulled = nsclient(user, "pull", run_id, str(folder))
    assert pulled.returncode == 0, pulled.stderr
    assert (folder / "results" / "out.txt").read_text() == "built\n"

    decisions = [Decision(**json.loads(line)) for line in (data_dir / DECISIONS_FILE).read_text().splitlines()]
    denied = [str(d) for d in decisions if not d.allowed]
    assert denied == []
    # The job ran as its owner's own job role (the created definition's JobRole is granted nothing)
    job_calls = {
        (d.action, d.resource.rsplit("/", 1)[-1]) for d in decisions if ":assumed-role/nsclient-job-" in d.principal
    }
    assert not any("-JobRole/" in d.principal for d in decisions)
    assert ("s3:GetObject", "workdir.zip") in job_calls
    assert ("s3:PutObject", "workdir.zip") in job_calls
    log_reads = {d.resource for d in decisions if d.action == "logs:GetLogEvents"}
    assert log_reads and all(":log-group:/aws/batch/nsclient-" in resource for resource in log_reads)
