"""A build's own code reaches only its own run: B's Snakefile, running in B's job as a teammate's code
would, tries with boto3 and with the AWS CLI to list, read, write and delete A's run objects and A's
env.d. Everything of A's is refused, everything of B's own is allowed, and A's runs are unaffected.

Each job runs as its job definition's role, with credentials as ECS hands them to a container (a
credentials endpoint, no keys in the environment); each person's jobs run as a role of their own,
made on their first run (nsclient_common.jobrole), whose first run succeeds."""

from __future__ import annotations

import json
import shutil
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError

from nsclient.local.batch_runtime import Disruption
from nsclient.local.principals import USERS_GROUP, Credentials
from nsclient.local.stack import STACK_NAME
from nsclient_common.jobrole import role_name, trust_policy
from nsclient_common.layout import envd_key, inbox_envd_key, inbox_key, notice_key, record_key, workdir_key
from nsclient_common.record import FailureClass, RunStatus
from nsclient_common.request import ENVD_VERSION
from nsclient_common.runid import run_id_for_upload
from tests.client.helpers import build_folder
from tests.faults import JobFault
from tests.pipeline.test_isolation import Person, make_person
from tests.support import SNAKEFILE_OK, wait_until, zip_bytes

if TYPE_CHECKING:
    from collections.abc import Iterator

    from nsclient.local.daemon import LocalBackend
    from nsclient.local.runtime import LocalRuntime
    from tests.faults import JobFaults
    from tests.support import Backend

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 180
PREPARE_RUN = f"{STACK_NAME}-PrepareRunFunction"
# A's job waits for an instance until it is ended (a reason no queue action cancels), so its env.d stays.
WAITING = "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY - waiting for an instance"


def aws_cli() -> str:
    """The AWS CLI (`make tools` installs it in .venv-tools/awscli), as a teammate's build would call it."""
    pinned = ROOT / ".venv-tools" / "awscli" / "bin" / "aws"
    found = str(pinned) if pinned.exists() else shutil.which("aws")
    assert found, "the AWS CLI is missing: run `make tools`"
    return found


# B's build: every attempt's outcome, by name, into results/attempts.json (which B then pulls).
ATTACKER = r"""
import json, os, subprocess, urllib.request
import boto3
from botocore.exceptions import ClientError

BUCKET, VICTIM, AWS = config["bucket"], config["victim"], config["aws"]
OWN_WORKDIR = os.environ["NEXTSTRAIN_AWS_BATCH_WORKDIR_URL"].removeprefix(f"s3://{BUCKET}/")
OWN_FOLDER = OWN_WORKDIR.rsplit("/", 2)[0] + "/"

rule all:
    output: "results/attempts.json"
    run:
        s3 = boto3.client("s3")

        def sdk(call, **kwargs):
            try:
                call(Bucket=BUCKET, **kwargs)
                return "allowed"
            except ClientError as error:
                return error.response["Error"]["Code"]

        def cli(*args, stdin=None):
            done = subprocess.run([AWS, *args], input=stdin, capture_output=True, text=True)
            return "allowed" if done.returncode == 0 else "refused: " + done.stderr.strip()[-300:]

        victim = VICTIM if isinstance(VICTIM, dict) else json.loads(VICTIM)  # --config reads it as YAML
        attempts = {
            "sdk list A's folder": sdk(s3.list_objects_v2, Prefix=victim["folder"]),
            "sdk read A's record": sdk(s3.get_object, Key=victim["record"]),
            "sdk read A's results": sdk(s3.get_object, Key=victim["workdir"]),
            "sdk read A's env.d": sdk(s3.get_object, Key=victim["envd"]),
            "sdk forge A's report": sdk(s3.put_object, Key=victim["report"], Body=b"<h1>forged</h1>"),
            "sdk forge A's record": sdk(s3.put_object, Key=victim["record"], Body=b"{}"),
            "sdk overwrite A's pending upload": sdk(s3.put_object, Key=victim["pending_workdir"], Body=b"x"),
            "sdk delete A's notice marker": sdk(s3.delete_object, Key=victim["notice"]),
            "sdk delete A's env.d": sdk(s3.delete_object, Key=victim["envd"]),
            "sdk drop a zip into A's inbox": sdk(s3.put_object, Key=victim["inbox"], Body=b"PK"),
            "cli list A's folder": cli("s3", "ls", f"s3://{BUCKET}/{victim['folder']}"),
            "cli read A's record": cli("s3", "cp", f"s3://{BUCKET}/{victim['record']}", "-"),
            "cli read A's env.d": cli("s3", "cp", f"s3://{BUCKET}/{victim['envd']}", "-"),
            "cli forge A's report": cli("s3", "cp", "-", f"s3://{BUCKET}/{victim['report']}", stdin="forged"),
            "cli delete A's notice marker": cli("s3", "rm", f"s3://{BUCKET}/{victim['notice']}"),
            "sdk read own upload": sdk(s3.get_object, Key=OWN_WORKDIR),
            "sdk write own folder": sdk(s3.put_object, Key=OWN_FOLDER + "probe.txt", Body=b"mine"),
            "sdk list own folder": sdk(s3.list_objects_v2, Prefix=OWN_FOLDER),
            "cli read own upload": cli("s3", "cp", f"s3://{BUCKET}/{OWN_WORKDIR}", os.devnull),
            "cli list own folder": cli("s3", "ls", f"s3://{BUCKET}/{OWN_FOLDER}"),
        }
        identity = boto3.client("sts").get_caller_identity()["Arn"]
        with open(output[0], "w") as out:
            json.dump({
                "attempts": attempts,
                "identity": identity,
                "aws_variables": sorted(k for k in os.environ if k.startswith("AWS_")),
                "credentials_uri": os.environ.get("AWS_CONTAINER_CREDENTIALS_FULL_URI"),
            }, out, indent=1)
"""


@dataclass
class Scene:
    a: Person
    b: Person
    a_done: str  # A's finished run
    a_waiting: str  # A's run with an env.d, its job waiting for an instance
    b_run: str
    report: dict[str, Any]  # what B's build found (results/attempts.json)
    a_done_record: bytes  # A's finished run's record before B's build ran


@pytest.fixture(scope="module")
def scene(local_backend: Backend, job_faults: JobFaults, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scene]:
    folders = tmp_path_factory.mktemp("build-code")
    a = make_person(local_backend, "a", USERS_GROUP, folders / "home-a")
    b = make_person(local_backend, "b", USERS_GROUP, folders / "home-b")
    bucket, s3 = local_backend.info.bucket, local_backend.client("s3")

    pushed = a.cli("push", str(build_folder(folders / "a-done", SNAKEFILE_OK)))
    assert pushed.code == 0, pushed.err
    a_done = pushed.out.strip()

    # A's second run: variables sent as an env.d (as push --env does), its job kept waiting.
    name = f"a-waiting-{uuid.uuid4().hex[:6]}"
    a_s3 = a.client(local_backend, "s3")
    envd = a_s3.put_object(Bucket=bucket, Key=inbox_envd_key(name, a.userid), Body=zip_bytes({"SECRET": "hunter2"}))
    key = inbox_key(name, a.userid)
    upload = a_s3.put_object(
        Bucket=bucket, Key=key, Body=zip_bytes({"Snakefile": SNAKEFILE_OK}), Metadata={ENVD_VERSION: envd["VersionId"]}
    )
    a_waiting = run_id_for_upload(key, upload["VersionId"])
    job_faults.faults.append(JobFault(name, Disruption(blocked_reason=WAITING)))
    local_backend.wait_for_record(a_done, timeout=TIMEOUT)
    a_done_record = s3.get_object(Bucket=bucket, Key=record_key(a_done, a.userid))["Body"].read()
    wait_until(lambda: _exists(s3, bucket, envd_key(a_waiting, a.userid)), timeout=TIMEOUT, what="A's env.d moved")

    victim = {
        "folder": f"runs/{a.userid}/",
        "record": record_key(a_done, a.userid),
        "workdir": workdir_key(a_done, a.userid),
        "pending_workdir": workdir_key(a_waiting, a.userid),
        "envd": envd_key(a_waiting, a.userid),
        "report": f"runs/{a.userid}/{a_done}/report.html",
        "notice": notice_key(a_done, a.userid),
        "inbox": inbox_key("forged", a.userid),
    }
    folder = build_folder(folders / "b-build", ATTACKER)
    config = ["--config", f"bucket={bucket}", f"victim={json.dumps(victim)}", f"aws={aws_cli()}"]
    pushed = b.cli("push", str(folder), "--", *config)
    assert pushed.code == 0, pushed.err
    b_run = pushed.out.strip()
    record = local_backend.wait_for_record(b_run, timeout=TIMEOUT)
    assert record.status == RunStatus.SUCCEEDED, local_backend.archived_log(b_run)
    pulled = b.cli("pull", b_run, str(folder))
    assert pulled.code == 0, pulled.err
    report = json.loads((folder / "results" / "attempts.json").read_text())
    yield Scene(a, b, a_done, a_waiting, b_run, report, a_done_record)
    job_faults.faults[:] = [f for f in job_faults.faults if f.name_prefix != name]
    for job in local_backend.batch_jobs(a_waiting):
        local_backend.client("batch").terminate_job(jobId=job["jobId"], reason="test over")


def _exists(s3: Any, bucket: str, key: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except Exception:
        return False
    return True


REFUSED_TO_SDK = {"AccessDenied", "403"}


@pytest.mark.slow
@pytest.mark.parametrize(
    "attempt",
    [
        "sdk list A's folder",
        "sdk read A's record",
        "sdk read A's results",
        "sdk read A's env.d",
        "sdk forge A's report",
        "sdk forge A's record",
        "sdk overwrite A's pending upload",
        "sdk delete A's notice marker",
        "sdk delete A's env.d",
        "sdk drop a zip into A's inbox",
    ],
)
def test_bs_build_code_is_refused_as_objects_through_the_sdk(scene: Scene, attempt: str) -> None:
    assert scene.report["attempts"][attempt] in REFUSED_TO_SDK


@pytest.mark.slow
@pytest.mark.parametrize(
    "attempt",
    [
        "cli list A's folder",
        "cli read A's record",
        "cli read A's env.d",
        "cli forge A's report",
        "cli delete A's notice marker",
    ],
)
def test_bs_build_code_is_refused_as_objects_through_the_aws_cli(scene: Scene, attempt: str) -> None:
    outcome = scene.report["attempts"][attempt]
    assert outcome.startswith("refused: ") and ("AccessDenied" in outcome or "Forbidden" in outcome), outcome


@pytest.mark.slow
@pytest.mark.parametrize(
    "attempt",
    [
        "sdk read own upload",
        "sdk write own folder",
        "sdk list own folder",
        "cli read own upload",
        "cli list own folder",
    ],
)
def test_bs_build_code_reaches_bs_own_run(scene: Scene, attempt: str) -> None:
    assert scene.report["attempts"][attempt] == "allowed"


@pytest.mark.slow
def test_as_runs_are_unaffected(local_backend: Backend, scene: Scene, tmp_path: Path) -> None:
    bucket, s3 = local_backend.info.bucket, local_backend.client("s3")
    a = scene.a
    assert s3.get_object(Bucket=bucket, Key=record_key(scene.a_done, a.userid))["Body"].read() == scene.a_done_record
    assert local_backend.notice(scene.a_done).get("state") == "sent"
    assert _exists(s3, bucket, envd_key(scene.a_waiting, a.userid))
    assert not _exists(s3, bucket, inbox_key("forged", a.userid))
    report = s3.get_object(Bucket=bucket, Key=f"runs/{a.userid}/{scene.a_done}/report.html")["Body"].read()
    assert b"forged" not in report
    pulled = a.cli("pull", scene.a_done, str(tmp_path / "a"))
    assert pulled.code == 0, pulled.err
    assert (tmp_path / "a" / "results" / "out.txt").read_text() == "built\n"


@pytest.mark.slow
def test_a_job_runs_as_its_owners_role_with_credentials_as_ecs_gives_them(scene: Scene) -> None:
    # The job's identity is its definition's role (B's own), reached through the credentials endpoint:
    # no keys of anyone's in its environment.
    assert ":assumed-role/nsclient-job-" in scene.report["identity"]
    assert {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}.isdisjoint(scene.report["aws_variables"])
    assert "AWS_CONTAINER_CREDENTIALS_FULL_URI" in scene.report["aws_variables"]
    # Once the job has ended, its credentials path answers nothing: no later process can use it.
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(scene.report["credentials_uri"], timeout=10)
    assert refused.value.code == 400


@pytest.mark.slow
def test_each_persons_jobs_run_as_different_roles(local_backend: Backend, scene: Scene) -> None:
    roles = {
        person: {
            job["container"].get("jobRoleArn") or _definition_role(local_backend, job["jobDefinition"])
            for job in local_backend.batch_jobs(run)
        }
        for person, run in (("a", scene.a_done), ("b", scene.b_run))
    }
    assert len(roles["a"]) == 1 and len(roles["b"]) == 1 and roles["a"] != roles["b"]
    assert all("/nsclient/" in arn for arns in roles.values() for arn in arns)


def _definition_role(backend: Backend, definition_arn: str) -> str:
    described = backend.client("batch").describe_job_definitions(jobDefinitions=[definition_arn])["jobDefinitions"]
    return str(described[0]["containerProperties"]["jobRoleArn"])


@pytest.mark.slow
def test_a_first_run_that_did_not_wait_for_its_new_role_would_fail(
    local_backend: Backend,
    local_server: LocalBackend,
    local_runtime: LocalRuntime,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    # The emulated IAM makes a new role assumable by ECS only after a while, as AWS's eventual consistency
    # can (here longer than the SDK's own retries of the credentials endpoint): PrepareRun's wait is what
    # makes a person's first run succeed (the scene's two people show it does).
    assert local_server.stack is not None
    monkeypatch.setattr(local_server.stack, "role_propagation_seconds", 20.0)
    environment = local_runtime.lambdas.functions[PREPARE_RUN].environment
    monkeypatch.setitem(environment, "JOB_ROLE_SETTLE_SECONDS", "0")
    c = make_person(local_backend, "c", USERS_GROUP, tmp_path / "home-c")
    pushed = c.cli("push", str(build_folder(tmp_path / "c-first", SNAKEFILE_OK)))
    assert pushed.code == 0, pushed.err
    record = local_backend.wait_for_record(pushed.out.strip(), timeout=TIMEOUT)
    assert record.status == RunStatus.FAILED and record.failure_class == FailureClass.EXIT_CODE
    assert "not yet assumable" in local_backend.archived_log(pushed.out.strip())


@pytest.mark.slow
@pytest.mark.parametrize(
    "attempt",
    ["no boundary", "another boundary", "outside the stack's path", "attach a managed policy", "drop the boundary"],
)
def test_the_role_making_grant_cannot_make_a_role_that_reaches_further(
    local_backend: Backend, local_runtime: LocalRuntime, scene: Scene, attempt: str
) -> None:
    # As PrepareRun's role (a session of its own, so these refusals are not taken for the backend's): only
    # roles under the stack's path and boundary.
    role = local_backend.client("iam").get_role(RoleName=f"{STACK_NAME}-PrepareRunFunctionRole")["Role"]["Arn"]
    issued = local_backend.client("sts").assume_role(RoleArn=role, RoleSessionName="escalation-attempt")
    keys = issued["Credentials"]
    iam = local_backend.client_as(
        "iam", Credentials(keys["AccessKeyId"], keys["SecretAccessKey"], keys["SessionToken"])
    )
    environment = local_runtime.lambdas.functions[PREPARE_RUN].environment
    path, boundary = environment["JOB_ROLE_PATH"], environment["JOB_ROLE_BOUNDARY_ARN"]
    trust = json.dumps(trust_policy())
    name = f"nsclient-job-escalate-{uuid.uuid4().hex[:8]}"
    existing = local_backend.client("iam").get_role(RoleName=role_name(path, scene.b.userid))["Role"]["RoleName"]
    calls = {
        "no boundary": lambda: iam.create_role(RoleName=name, Path=path, AssumeRolePolicyDocument=trust),
        "another boundary": lambda: iam.create_role(
            RoleName=name,
            Path=path,
            AssumeRolePolicyDocument=trust,
            PermissionsBoundary="arn:aws:iam::aws:policy/AdministratorAccess",
        ),
        "outside the stack's path": lambda: iam.create_role(
            RoleName=name, Path="/", AssumeRolePolicyDocument=trust, PermissionsBoundary=boundary
        ),
        "attach a managed policy": lambda: iam.attach_role_policy(
            RoleName=existing, PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess"
        ),
        "drop the boundary": lambda: iam.delete_role_permissions_boundary(RoleName=existing),
    }
    with pytest.raises(ClientError) as refused:
        calls[attempt]()
    assert refused.value.response["Error"]["Code"] in {"AccessDenied", "403"}
    roles = {r["RoleName"] for r in local_backend.client("iam").list_roles()["Roles"]}
    assert name not in roles
