"""Each person sees and controls only their own runs, under strict IAM (the template's policies,
decided as AWS decides them): two people in the users group, A and B, and a team admin.

Every refusal is a test of its own that fails if the policy allows the call. What people share is
listed in the README (the queue's job states and the running jobs' log streams)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError

from nsclient.local import strict_iam
from nsclient.local.principals import ADMINS_GROUP, USERS_GROUP, Credentials
from nsclient.local.stack import STACK_NAME
from nsclient_common.layout import cancel_request_key, inbox_key, record_key, workdir_key
from nsclient_common.record import RunStatus
from nsclient_common.runid import run_id_for_upload
from tests.client.helpers import SNAKEFILE_HELD, Cli, aws_machine, build_folder, wait_for_status
from tests.support import SNAKEFILE_OK, wait_until, zip_bytes

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.support import Backend

TIMEOUT = 120
EVENTS = Path(__file__).resolve().parents[1] / "events"
CANCEL_RUN_FUNCTION = f"{STACK_NAME}-CancelRunFunction"


@dataclass
class Person:
    name: str
    credentials: Credentials
    userid: str  # aws:userid: the name of their folders
    cli: Cli

    def client(self, backend: Backend, service: str) -> Any:
        return backend.client_as(service, self.credentials)


def make_person(backend: Backend, name: str, group: str, home: Path) -> Person:
    credentials = backend.new_person(f"isolation-{name}-{uuid.uuid4().hex[:6]}", group)
    userid = backend.client_as("sts", credentials).get_caller_identity()["UserId"]
    return Person(name, credentials, userid, aws_machine(home, backend, credentials))


@pytest.fixture(scope="module")
def people(local_backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Person]:
    return {
        name: make_person(local_backend, name, group, tmp_path_factory.mktemp(f"isolation-{name}"))
        for name, group in (("a", USERS_GROUP), ("b", USERS_GROUP), ("admin", ADMINS_GROUP))
    }


@dataclass
class Runs:
    a_done: str  # A's finished run
    a_held: str  # A's run held RUNNING until released
    a_to_cancel: str  # another, which A cancels (a_held stays RUNNING whichever test runs first)
    b_done: str
    barrier: Path


@pytest.fixture(scope="module")
def runs(local_backend: Backend, people: dict[str, Person], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    folders = tmp_path_factory.mktemp("isolation-builds")
    barrier = folders / "release"
    a, b = people["a"], people["b"]
    pushed = {
        "a_done": a.cli("push", str(build_folder(folders / "a-done", SNAKEFILE_OK))),
        "a_held": a.cli("push", str(build_folder(folders / "a-held", SNAKEFILE_HELD.format(barrier=barrier)))),
        "a_to_cancel": a.cli("push", str(build_folder(folders / "a-cancel", SNAKEFILE_HELD.format(barrier=barrier)))),
        "b_done": b.cli("push", str(build_folder(folders / "b-done", SNAKEFILE_OK))),
    }
    for result in pushed.values():
        assert result.code == 0, result.err
    made = Runs(**{k: v.out.strip() for k, v in pushed.items()}, barrier=barrier)
    local_backend.wait_for_record(made.a_done, timeout=TIMEOUT)
    local_backend.wait_for_record(made.b_done, timeout=TIMEOUT)
    wait_for_status(a.cli, made.a_held, "RUNNING", timeout=TIMEOUT)
    wait_for_status(a.cli, made.a_to_cancel, "RUNNING", timeout=TIMEOUT)
    yield made
    barrier.touch()


# How AWS says no: S3's code, the JSON protocols' one (moto answers those with the bare status).
DENIED = {"AccessDenied", "AccessDeniedException", "403"}


def wait_for_cancel_run_to_look_at(execution_arn: str, timeout: float = 30) -> None:
    """Until CancelRunFunction has read the execution a request names (strict IAM records its every call)."""
    enforcement = strict_iam.ENFORCEMENT
    assert enforcement is not None
    wait_until(
        lambda: any(
            "CancelRunFunctionRole/" in d.principal and d.resource == execution_arn for d in list(enforcement.decisions)
        ),
        timeout=timeout,
        what=f"CancelRunFunction looked at {execution_arn}",
    )


def invoke_cancel_run(backend: Backend, key: str, version_id: str) -> dict[str, Any]:
    """CancelRunFunction's answer to the Object Created event of a cancel request (the sample, filled in)."""
    request = json.loads((EVENTS / "cancel_run" / "cancel_requested.json").read_text())
    request["resources"] = [f"arn:aws:s3:::{backend.info.bucket}"]
    request["detail"]["bucket"]["name"] = backend.info.bucket
    request["detail"]["object"].update({"key": key, "version-id": version_id})
    response = backend.client("lambda").invoke(FunctionName=CANCEL_RUN_FUNCTION, Payload=json.dumps(request).encode())
    answer: dict[str, Any] = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, answer
    return answer


def refused(call: Any, **kwargs: Any) -> str:
    """The error code of a call that must be refused; fails the test if it is allowed."""
    with pytest.raises(ClientError) as error:
        call(**kwargs)
    code = str(error.value.response["Error"]["Code"])
    assert code in DENIED, code
    return code


# --- what A can do with only the user policy ------------------------------------------------------------


def test_a_person_pushes_follows_pulls_and_lists_their_own_runs(
    local_backend: Backend, people: dict[str, Person], runs: Runs, tmp_path: Path
) -> None:
    a = people["a"]
    record = local_backend.record(runs.a_done)
    assert record is not None and record.owner == a.userid and record.status == RunStatus.SUCCEEDED
    assert a.cli("status", runs.a_done).code == 0
    assert "the build ran" in a.cli("logs", runs.a_done).out
    pulled = a.cli("pull", runs.a_done, str(tmp_path / "pulled"))
    assert pulled.code == 0, pulled.err
    assert (tmp_path / "pulled" / "results" / "out.txt").read_text() == "built\n"
    listed = [r["run_id"] for r in a.cli("list", "--json").json()]
    assert runs.a_done in listed and runs.a_held in listed and runs.b_done not in listed


def test_a_person_drops_a_zip_into_their_own_inbox_folder_and_it_runs_as_theirs(
    local_backend: Backend, people: dict[str, Person]
) -> None:
    a = people["a"]
    key = inbox_key(f"dropped-{uuid.uuid4().hex[:6]}", a.userid)
    put = a.client(local_backend, "s3").put_object(
        Bucket=local_backend.info.bucket, Key=key, Body=zip_bytes({"Snakefile": SNAKEFILE_OK})
    )
    record = local_backend.wait_for_record(run_id_for_upload(key, put["VersionId"]), timeout=TIMEOUT)
    assert record.owner == a.userid and record.status == RunStatus.SUCCEEDED


# --- what B cannot do to A's runs -----------------------------------------------------------------------


def test_b_cannot_read_as_record(local_backend: Backend, people: dict[str, Person], runs: Runs) -> None:
    s3 = people["b"].client(local_backend, "s3")
    key = record_key(runs.a_done, people["a"].userid)
    assert refused(s3.get_object, Bucket=local_backend.info.bucket, Key=key) in DENIED


def test_b_cannot_pull_as_run(people: dict[str, Person], runs: Runs, tmp_path: Path) -> None:
    result = people["b"].cli("pull", runs.a_done, str(tmp_path / "stolen"))
    assert result.code == 3, result.err
    assert not (tmp_path / "stolen").exists()
    assert people["b"].cli("status", runs.a_done).code == 3


def test_b_cannot_list_as_runs(local_backend: Backend, people: dict[str, Person]) -> None:
    s3 = people["b"].client(local_backend, "s3")
    prefix = f"runs/{people['a'].userid}/"
    assert refused(s3.list_objects_v2, Bucket=local_backend.info.bucket, Prefix=prefix) in DENIED
    assert refused(s3.list_objects_v2, Bucket=local_backend.info.bucket, Prefix="runs/") in DENIED


def test_b_cannot_overwrite_as_pending_workdir(local_backend: Backend, people: dict[str, Person], runs: Runs) -> None:
    s3 = people["b"].client(local_backend, "s3")
    key = workdir_key(runs.a_held, people["a"].userid)
    assert refused(s3.put_object, Bucket=local_backend.info.bucket, Key=key, Body=b"injected") in DENIED


def test_b_cannot_upload_into_as_inbox(local_backend: Backend, people: dict[str, Person]) -> None:
    s3 = people["b"].client(local_backend, "s3")
    key = inbox_key("forged", people["a"].userid)
    body = zip_bytes({"Snakefile": SNAKEFILE_OK})
    assert refused(s3.put_object, Bucket=local_backend.info.bucket, Key=key, Body=body) in DENIED


def test_b_cannot_delete_as_objects(local_backend: Backend, people: dict[str, Person], runs: Runs) -> None:
    s3 = people["b"].client(local_backend, "s3")
    key = record_key(runs.a_done, people["a"].userid)
    assert refused(s3.delete_object, Bucket=local_backend.info.bucket, Key=key) in DENIED
    assert local_backend.record(runs.a_done) is not None


def test_b_cannot_stop_as_execution(local_backend: Backend, people: dict[str, Person], runs: Runs) -> None:
    sfn = people["b"].client(local_backend, "stepfunctions")
    arn = local_backend.execution_arn(runs.a_held)
    assert refused(sfn.stop_execution, executionArn=arn) in DENIED


def test_bs_cancel_request_for_as_run_is_refused_by_the_backend(
    local_backend: Backend, people: dict[str, Person], runs: Runs
) -> None:
    b = people["b"]
    key = cancel_request_key(runs.a_held, b.userid)  # in B's own folder: IAM allows it
    put = b.client(local_backend, "s3").put_object(Bucket=local_backend.info.bucket, Key=key, Body=b"")
    arn = local_backend.execution_arn(runs.a_held)
    wait_for_cancel_run_to_look_at(arn)
    # The same request handled to its end, as EventBridge invokes CancelRunFunction: its answer, and its calls
    # before it returned, are the whole of what it does with it.
    answer = invoke_cancel_run(local_backend, key, put["VersionId"])
    assert answer == {"run_id": runs.a_held, "stopped": False, "reason": "refused: the run is not the asker's"}
    assert strict_iam.ENFORCEMENT is not None
    stops = [
        d
        for d in strict_iam.ENFORCEMENT.decisions
        if "CancelRunFunctionRole/" in d.principal and d.action == "states:StopExecution" and d.resource == arn
    ]
    assert stops == []
    record = local_backend.record(runs.a_held)
    assert record is not None and not record.status.is_final
    described = local_backend.client("stepfunctions").describe_execution(
        executionArn=local_backend.execution_arn(runs.a_held)
    )
    assert described["status"] == "RUNNING"
    assert people["b"].cli("cancel", runs.a_held).code == 3  # and the CLI says there is no such run of B's


def test_forged_submitter_metadata_does_not_change_the_owner(local_backend: Backend, people: dict[str, Person]) -> None:
    a, b = people["a"], people["b"]
    key = inbox_key(f"forged-{uuid.uuid4().hex[:6]}", b.userid)
    put = b.client(local_backend, "s3").put_object(
        Bucket=local_backend.info.bucket,
        Key=key,
        Body=zip_bytes({"Snakefile": SNAKEFILE_OK}),
        Metadata={"submitter": a.name, "owner": a.userid},
    )
    record = local_backend.wait_for_record(run_id_for_upload(key, put["VersionId"]), timeout=TIMEOUT)
    assert record.owner == b.userid


# --- the admin, and A's own cancel (last: it ends the held run) ------------------------------------------


def test_an_admin_lists_everyones_runs_with_their_owner(people: dict[str, Person], runs: Runs) -> None:
    listed = {r["run_id"]: r["owner"] for r in people["admin"].cli("list", "--everyone", "--json").json()}
    assert listed[runs.a_done] == people["a"].userid
    assert listed[runs.b_done] == people["b"].userid
    table = people["admin"].cli("list", "--everyone").out
    assert "OWNER" in table and people["a"].userid in table
    refused_list = people["b"].cli("list", "--everyone")
    assert refused_list.code == 1 and "admin policy" in refused_list.err


def test_an_admin_reads_and_pulls_anyones_run(people: dict[str, Person], runs: Runs, tmp_path: Path) -> None:
    admin = people["admin"]
    assert admin.cli("status", runs.b_done).code == 0
    pulled = admin.cli("pull", runs.b_done, str(tmp_path / "b"))
    assert pulled.code == 0, pulled.err


def test_an_admin_reads_a_run_made_before_per_person_folders(local_backend: Backend, people: dict[str, Person]) -> None:
    # An upload straight into inbox/ (as runs were before folders): its run folder is runs/<id>/
    run_id = local_backend.upload(zip_bytes({"Snakefile": SNAKEFILE_OK}), name=f"legacy-{uuid.uuid4().hex[:6]}")
    assert local_backend.wait_for_record(run_id, timeout=TIMEOUT).owner is None
    assert local_backend.keys(record_key(run_id, None))
    shown = people["admin"].cli("status", run_id, "--json")
    assert shown.code == 0 and shown.json()["run_id"] == run_id
    assert people["a"].cli("status", run_id).code == 3


def test_a_cancels_their_own_run_with_only_the_user_policy(
    local_backend: Backend, people: dict[str, Person], runs: Runs
) -> None:
    result = people["a"].cli("cancel", runs.a_to_cancel)
    assert result.code == 0, result.err
    assert "asked the backend to stop it" in result.err
    record = local_backend.wait_for_record(runs.a_to_cancel, timeout=TIMEOUT)
    assert record.status == RunStatus.CANCELLED
