"""Many people pushing at the same moment lose nothing: every push becomes exactly one run, one record
and one notice, however the local backend shares its threads, clients and concurrency among them.

Each push is `nsclient push` as its own process, all started together, as people at their own machines
would; benchmarks/scale.py does the same with fifty, measuring what it costs.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from email import message_from_bytes, policy
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from nsclient_common.record import RunStatus
from tests.client.helpers import Cli, build_folder
from tests.support import wait_until

if TYPE_CHECKING:
    from tests.support import Backend

PUSHES = 8
# Eight builds on a loaded two-core machine: each is seconds alone, they queue for the same cores here.
TIMEOUT = 600
SNAKEFILE = 'rule all:\n    output: "results/number.txt"\n    shell: "echo {number} > {{output}}"\n'


@pytest.mark.slow
def test_concurrent_pushes_each_become_one_run_one_record_and_one_notice(
    local_backend: Backend, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # Given a person's machine pointed at the local backend, and eight builds
    home = tmp_path_factory.mktemp("concurrent-pushes")
    machine = Cli(home / "home").point_at(local_backend)
    builds = [build_folder(home / f"build-{n}", SNAKEFILE.format(number=n)) for n in range(PUSHES)]

    # When all eight are pushed at once, each by its own nsclient process
    with ThreadPoolExecutor(PUSHES) as pool:
        pushed = list(pool.map(lambda build: machine.process("push", str(build), timeout=TIMEOUT), builds))

    # Then every push succeeded and named a run of its own
    assert [(p.code, p.err) for p in pushed if p.code != 0] == []
    run_ids = [p.out.splitlines()[0].strip() for p in pushed]
    assert len(set(run_ids)) == PUSHES

    # And every run ends with its record final and its notice sent
    for run_id in run_ids:
        local_backend.wait_for_record(run_id, timeout=TIMEOUT)
    records = {run_id: local_backend.record(run_id) for run_id in run_ids}
    assert {run_id: r.status if r else None for run_id, r in records.items()} == dict.fromkeys(
        run_ids, RunStatus.SUCCEEDED
    )

    # And each upload started exactly one execution, which succeeded
    sfn = local_backend.client("stepfunctions")

    def all_ended() -> list[dict[str, str]] | None:
        pages = sfn.get_paginator("list_executions").paginate(stateMachineArn=local_backend.info.state_machine_arn)
        ours = [e for page in pages for e in page["executions"] if e["name"] in run_ids]
        return ours if all(e["status"] != "RUNNING" for e in ours) else None

    executions = wait_until(all_ended, timeout=TIMEOUT, what="the pushes' executions ended")
    assert sorted((e["name"], e["status"]) for e in executions) == sorted((r, "SUCCEEDED") for r in run_ids)

    # And each run's notice was published once, and reads in a mail client as that run's success
    for run_id in run_ids:
        assert len(local_backend.topic_messages(run_id)) == 1, run_id
        email = message_from_bytes(
            (Path(local_backend.info.outbox) / f"{run_id}.eml").read_bytes(), policy=policy.default
        )
        assert email["X-Nsclient-Run"] == run_id
        assert "SUCCEEDED" in str(email["Subject"])
