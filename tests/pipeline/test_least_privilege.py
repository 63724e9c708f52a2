"""Least privilege, proven on the calls that are made.

The session's local backend authorizes every request as AWS would (strict IAM), so a call the
template does not allow fails the test that makes it. This module goes the other way: it runs the
flows that use every permission (a person pushing with variables and another image, following,
pulling, listing and cancelling, reading a run's report, subscribing to their notices and
unsubscribing; a failing build; a rejected upload; a Spot reclaim rerun on the
on-demand queue; an emailed notice), then checks strict IAM's record of the whole session:

- no call by the backend's own principals (functions, state machine, job) was refused;
- every action each of the template's policy statements grants was used by some call that
  statement alone allows; the exceptions are the grants that AWS services use on a principal's
  behalf, which the emulator does not make, each with its reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from nsclient.local import strict_iam
from nsclient.local.principals import ADMINS_GROUP, LOCAL_USER, Credentials
from nsclient.local.stack import LOCAL_USER_ID, STACK_NAME
from nsclient_common.jobrole import role_name
from tests.client.helpers import SNAKEFILE_HELD, Cli, aws_machine, build_folder, wait_for_status
from tests.faults import JobFault, JobFaults
from tests.support import ON_DEMAND_QUEUE, SNAKEFILE_FAILS, SNAKEFILE_OK, wait_until, zip_bytes

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.support import Backend

TIMEOUT = 120
ADMIN_PERSON = "least-privilege-admin"

# (principal, action) -> why no call of ours uses it. Principals as named below (see `principals`).
DEAD_LETTERS = "Lambda sends a failed asynchronous invocation to the dead-letter queue"
USED_BY_AWS_ITSELF = {
    ("StartRunFunction", "sqs:SendMessage"): DEAD_LETTERS,
    ("ReconcileRunFunction", "sqs:SendMessage"): DEAD_LETTERS,
    ("CancelRunFunction", "sqs:SendMessage"): DEAD_LETTERS,
    ("NoticeSubscriptionFunction", "sqs:SendMessage"): DEAD_LETTERS,
    ("NotifyRunFunction", "kms:GenerateDataKey"): "SNS encrypts the message with the topic's key as the publisher",
    ("NotifyRunFunction", "kms:Decrypt"): "SNS encrypts the message with the topic's key as the publisher",
    ("ReconcileRunFunction", "kms:GenerateDataKey"): "SNS encrypts the message with the topic's key as the publisher",
    ("ReconcileRunFunction", "kms:Decrypt"): "SNS encrypts the message with the topic's key as the publisher",
    ("RunBuildStateMachine", "batch:TerminateJob"): "Step Functions terminates a .sync job whose execution is stopped",
    ("RunBuildStateMachine", "events:PutTargets"): "Step Functions manages the rule that tracks .sync Batch jobs",
    ("RunBuildStateMachine", "events:PutRule"): "Step Functions manages the rule that tracks .sync Batch jobs",
    ("RunBuildStateMachine", "events:DescribeRule"): "Step Functions manages the rule that tracks .sync Batch jobs",
}
# Vended log delivery for the state machine's Logging configuration: Step Functions sets it up.
USED_BY_AWS_ITSELF.update(
    {
        ("RunBuildStateMachine", action): "Step Functions delivers the execution log to its log group"
        for action in (
            "logs:CreateLogDelivery",
            "logs:GetLogDelivery",
            "logs:UpdateLogDelivery",
            "logs:DeleteLogDelivery",
            "logs:ListLogDeliveries",
            "logs:PutResourcePolicy",
            "logs:DescribeResourcePolicies",
            "logs:DescribeLogGroups",
        )
    }
)
# Grants whose calls happen only on a path these flows do not take, with that path.
RARE_PATHS = {
    ("FinalizeRunFunction", "s3:ListBucket"): "a run whose preparation died: its missing record reads 404, not 403",
    ("ReconcileRunFunction", "s3:ListBucket"): "a run whose preparation died: its missing record reads 404, not 403",
    ("NotifyRunFunction", "s3:GetObject"): "reading another sender's claim when two race to send one notice",
    ("PrepareRunFunction", "s3:AbortMultipartUpload"): "a copy of an upload over 5 GB (UploadPartCopy) that fails",
    ("CollectLogsFunction", "s3:AbortMultipartUpload"): "an archive of a log over 8 MiB whose upload fails",
    ("ReconcileRunFunction", "s3:AbortMultipartUpload"): "an archive of a log over 8 MiB whose upload fails",
    ("NsclientUserPolicy", "s3:AbortMultipartUpload"): "push of a build over 64 MiB interrupted (Ctrl-C) or failing",
    ("NsclientUserPolicy", "s3:DeleteObject"): "push removing its variables when the build's own upload fails",
    ("NsclientUserPolicy", "cloudformation:DescribeStacks"): "nsclient setup; the local backend is no stack",
    ("PersonJobRole", "s3:AbortMultipartUpload"): "the job's upload of a results zip over 8 MiB that fails",
    ("PersonJobRole", "s3:ListBucket"): "the job's download of an upload gone missing: 404, not 403",
    ("NsclientUserPolicy", "s3:ListBucketVersions"): "pull of a run whose record does not name its upload's version",
    ("NsclientAdminPolicy", "s3:AbortMultipartUpload"): "push of a build over 64 MiB interrupted (Ctrl-C) or failing",
    ("NsclientAdminPolicy", "s3:DeleteObject"): "push removing its variables when the build's own upload fails",
    ("NsclientAdminPolicy", "cloudformation:DescribeStacks"): "nsclient setup; the local backend is no stack",
    ("NsclientAdminPolicy", "s3:ListBucketVersions"): "pull of a run whose record does not name its upload's version",
    ("NsclientAdminPolicy", "states:DescribeExecution"): "status of another's run whose record is not written yet",
    ("NsclientAdminPolicy", "logs:GetLogEvents"): "following another person's running build",
}


@dataclass(frozen=True)
class Grant:
    principal: str  # a function's or the state machine's logical id, NsclientUserPolicy, PersonJobRole
    arn: str  # whose calls count: a role's or the user's ARN
    action: str
    statement: dict[str, Any]
    resource_policy: bool = False  # granted by the bucket policy rather than an identity policy

    def allows(self, decision: strict_iam.Decision, evaluator: strict_iam.Evaluator) -> bool:
        statement = {**self.statement, "Action": self.action}
        if self.resource_policy:
            statement.pop("Sid", None)
        policy = {"Version": "2012-10-17", "Statement": [statement]}
        account = self.arn.split(":")[4]
        request: dict[str, Any] = {
            "principal": decision.principal,
            "action": decision.action,
            "resource": decision.resource,
            "account": account,
            "identityPolicies": [] if self.resource_policy else [policy],
            "context": {**strict_iam.principal_context(decision.principal), **decision.context},
        }
        if self.resource_policy:
            request["resourcePolicy"] = policy
        return bool(evaluator.evaluate(request)["result"] == strict_iam.ALLOWED)


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement["Action"]
    return [actions] if isinstance(actions, str) else list(actions)


def _documents(iam: Any, role: str) -> list[dict[str, Any]]:
    """A role's inline policies and its customer-managed ones (AWS's own managed policies are AWS's)."""
    documents = [
        iam.get_role_policy(RoleName=role, PolicyName=n)["PolicyDocument"]
        for n in iam.list_role_policies(RoleName=role)["PolicyNames"]
    ]
    for attached in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]:
        if ":aws:policy/" not in attached["PolicyArn"]:
            documents.append(_managed(iam, attached["PolicyArn"]))
    return documents


def _managed(iam: Any, arn: str) -> dict[str, Any]:
    version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    document: dict[str, Any] = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"]
    return document


def _statements(document: dict[str, Any] | str) -> list[dict[str, Any]]:
    parsed = json.loads(document) if isinstance(document, str) else document
    statements = parsed["Statement"]
    return [statements] if isinstance(statements, dict) else list(statements)


def principals(backend: Backend) -> list[Grant]:
    """Every action granted by the template: to each role SAM makes, to people, to the existing job role."""
    iam = backend.client("iam")
    grants = []
    for role in iam.list_roles()["Roles"]:
        name = role["RoleName"]
        if not (name.startswith(f"{STACK_NAME}-") and name.endswith("Role")):
            continue
        logical = name.removeprefix(f"{STACK_NAME}-").removesuffix("Role")
        for document in _documents(iam, name):
            for statement in _statements(document):
                if statement["Effect"] == "Allow":
                    grants += [Grant(logical, role["Arn"], a, statement) for a in _actions(statement)]
    people = {
        "NsclientUserPolicy": iam.get_user(UserName=LOCAL_USER)["User"]["Arn"],
        "NsclientAdminPolicy": iam.get_user(UserName=ADMIN_PERSON)["User"]["Arn"],
    }
    for policy in iam.list_policies(Scope="Local")["Policies"]:
        for name, person in people.items():
            if policy["PolicyName"].endswith(name):
                for statement in _statements(_managed(iam, policy["Arn"])):
                    grants += [Grant(name, person, a, statement) for a in _actions(statement)]
    # The bucket policy grants no job role anything (the team's NextstrainJobsRole included): each run's job
    # runs as its owner's own role, made by PrepareRun; the local person's stands for all of them.
    bucket_policy = json.loads(backend.client("s3").get_bucket_policy(Bucket=backend.info.bucket)["Policy"])
    assert [s for s in _statements(bucket_policy) if s["Effect"] == "Allow"] == []
    job_role = iam.get_role(RoleName=person_job_role(backend))["Role"]
    for document in _documents(iam, job_role["RoleName"]):
        for statement in _statements(document):
            if statement["Effect"] == "Allow":
                grants += [Grant("PersonJobRole", job_role["Arn"], a, statement) for a in _actions(statement)]
    return grants


def person_job_role(backend: Backend) -> str:
    """The name of the local person's job role (nsclient_common.jobrole), under the template's JOB_ROLE_PATH."""
    return role_name(f"/nsclient/{backend.info.region}/{STACK_NAME}/", LOCAL_USER_ID)


def _calls_of(arn: str, decisions: list[strict_iam.Decision]) -> list[strict_iam.Decision]:
    """Allowed calls by a principal: a user's own, or any session of a role."""
    if ":role/" not in arn:
        return [d for d in decisions if d.principal == arn and d.allowed]
    role = arn.rsplit("/", 1)[1]
    return [d for d in decisions if f":assumed-role/{role}/" in d.principal and d.allowed]


# --- the flows ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def person(local_backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    machine = Cli(tmp_path_factory.mktemp("least-privilege-person")).point_at(local_backend)
    yield machine
    machine.stop_strays()


@pytest.fixture(scope="module")
def admin_credentials(local_backend: Backend) -> Credentials:
    return local_backend.new_person(ADMIN_PERSON, ADMINS_GROUP)


@pytest.fixture(scope="module")
def admin(local_backend: Backend, admin_credentials: Credentials, tmp_path_factory: pytest.TempPathFactory) -> Cli:
    """A team admin: an IAM user in the stack's admins group, using the aws backend kind."""
    return aws_machine(tmp_path_factory.mktemp("least-privilege-admin"), local_backend, admin_credentials)


@pytest.fixture(scope="module")
def exercised(
    local_backend: Backend,
    job_faults: JobFaults,
    person: Cli,
    admin: Cli,
    admin_credentials: Credentials,
    tmp_path_factory: pytest.TempPathFactory,
) -> list[str]:
    """Runs that together use every grant; their ids."""
    folders = tmp_path_factory.mktemp("least-privilege-builds")
    barrier = folders / "release"
    held_folder = build_folder(folders / "held", SNAKEFILE_HELD.format(barrier=barrier))
    held = person("push", str(held_folder), "--notify", "someone@example.org")
    assert held.code == 0, held.err
    held_id = held.out.strip()
    ok = person(
        "push",
        str(build_folder(folders / "ok", SNAKEFILE_OK)),
        "--env",
        "LEAST_PRIVILEGE=1",
        "--image",
        "nextstrain/base:branch-least-privilege",
        "--notify",
        "someone@example.org",
    )
    assert ok.code == 0, ok.err
    failing = person("push", str(build_folder(folders / "failing", SNAKEFILE_FAILS)))
    assert failing.code == 0, failing.err
    rejected = local_backend.upload(b"not a zip", name="least-privilege-rejected")
    job_faults.faults.append(JobFault.host_terminated("least-privilege-spot", queue="nextstrain-job-queue"))
    spot = local_backend.upload(zip_bytes({"Snakefile": SNAKEFILE_OK}), name="least-privilege-spot")

    # While the held run runs, a person follows it (live state, live log), then cancels it
    wait_for_status(person, held_id, "RUNNING", timeout=TIMEOUT)
    assert person("status", held_id).code == 0
    assert "holding" in _live_log(person, held_id)
    assert person("cancel", held_id).code == 0
    run_ids = [ok.out.strip(), failing.out.strip(), rejected, spot, held_id]
    for run_id in run_ids:
        local_backend.wait_for_record(run_id, timeout=TIMEOUT)
    ok_id = ok.out.strip()
    person_commands: list[tuple[str, ...]] = [
        ("status", ok_id),
        ("logs", ok_id),
        ("pull", ok_id),
        ("list",),
        ("report", ok_id, "--no-open", "--dir", str(folders / "report")),
        ("subscribe", "someone@example.org"),
        ("unsubscribe", "someone@example.org"),
    ]
    for command in person_commands:
        result = person(*command)
        assert result.code == 0, (command, result.err)
    # An admin pushes, lists everyone's runs, reads and pulls another's, and cancels another's running build
    admin_barrier = folders / "release-admin"
    others = person("push", str(build_folder(folders / "others", SNAKEFILE_HELD.format(barrier=admin_barrier))))
    own = admin("push", str(build_folder(folders / "admins", SNAKEFILE_OK)))
    assert others.code == 0 and own.code == 0, (others.err, own.err)
    wait_for_status(admin, others.out.strip(), "RUNNING", timeout=TIMEOUT)
    admin_commands: list[tuple[str, ...]] = [
        ("list", "--everyone"),
        ("status", ok_id),
        ("pull", ok_id, str(folders / "a")),
        ("subscribe", "admin@example.org"),
        ("unsubscribe", "admin@example.org"),
    ]
    for admin_command in admin_commands:
        result = admin(*admin_command)
        assert result.code == 0, (admin_command, result.err)
    assert admin("cancel", others.out.strip()).code == 0
    # An admin changes the team channel (an unfiltered subscription: every run's notice) with the AWS CLI's calls
    sns = local_backend.client_as("sns", admin_credentials)
    team = sns.subscribe(
        TopicArn=local_backend.info.topic_arn, Protocol="email", Endpoint="team@example.org", ReturnSubscriptionArn=True
    )["SubscriptionArn"]
    assert team in {
        s["SubscriptionArn"]
        for s in sns.list_subscriptions_by_topic(TopicArn=local_backend.info.topic_arn)["Subscriptions"]
    }
    sns.unsubscribe(SubscriptionArn=team)
    for run_id in (others.out.strip(), own.out.strip()):
        local_backend.wait_for_record(run_id, timeout=TIMEOUT)
    return run_ids


def _live_log(person: Cli, run_id: str) -> str:
    def log_once_holding() -> str:
        log = person("logs", run_id).out
        return log if "holding" in log else ""

    return wait_until(log_once_holding, timeout=TIMEOUT, what=f"the running job's first line in {run_id}'s log")


# --- the checks -----------------------------------------------------------------------------------------


def test_the_flows_end_as_they_should(local_backend: Backend, exercised: list[str]) -> None:
    records = [local_backend.record(run_id) for run_id in exercised]
    assert [r.status.value if r else None for r in records] == [
        "SUCCEEDED",
        "FAILED",
        "REJECTED",
        "SUCCEEDED",
        "CANCELLED",
    ]
    spot = records[3]
    assert spot is not None and spot.job_queue == ON_DEMAND_QUEUE


def test_no_call_by_the_backend_is_refused(local_backend: Backend, exercised: list[str]) -> None:
    enforcement = strict_iam.ENFORCEMENT
    assert enforcement is not None

    # The backend's principals are role sessions: the functions', the state machine's, and the jobs' of this
    # module's people. People (IAM users) and other people's build code are refused on purpose by other tests.
    # A function's or the state machine's own session is named after it (tests may open other sessions of
    # their roles to show what those roles refuse).
    def by_the_backend(principal: str) -> bool:
        if f":assumed-role/{person_job_role(local_backend)}/" in principal:
            return True
        return f":assumed-role/{STACK_NAME}-" in principal and principal.rsplit("/", 1)[1].startswith(STACK_NAME)

    refused = [str(d) for d in enforcement.decisions if not d.allowed and by_the_backend(d.principal)]
    assert refused == []


def test_every_grant_is_used_by_a_call_it_alone_allows(local_backend: Backend, exercised: list[str]) -> None:
    enforcement = strict_iam.ENFORCEMENT
    assert enforcement is not None
    decisions = list(enforcement.decisions)
    excepted = {**USED_BY_AWS_ITSELF, **RARE_PATHS}
    unused = []
    for grant in principals(local_backend):
        if (grant.principal, grant.action) in excepted:
            continue
        calls = [d for d in _calls_of(grant.arn, decisions) if d.action.lower() == grant.action.lower()]
        if not any(grant.allows(d, enforcement.evaluator) for d in calls):
            unused.append(f"{grant.principal}: {grant.action} on {grant.statement.get('Resource')}")
    assert unused == [], "\n".join(unused)


def test_every_exception_names_a_grant_that_exists(local_backend: Backend, exercised: list[str]) -> None:
    # After the flows (unused but for what they made): the admin person's IAM user, and the local person's job
    # role, made on their first run, whose grants are among the principals' own
    granted = {(g.principal, g.action) for g in principals(local_backend)}
    assert sorted((set(USED_BY_AWS_ITSELF) | set(RARE_PATHS)) - granted) == []
