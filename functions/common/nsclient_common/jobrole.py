"""A job role per person, so that a build's own code reaches its owner's runs and nothing else.

Batch gives a job the role its job definition names, and SubmitJob cannot change it, so each person
gets a role of their own (made on their first run) and job definitions derived from the team's that
name it (jobdefinition.py). The role may read and write only runs/<owner>/ (an ownerless run's role
only run folders directly under runs/), and every role is made under the stack's IAM path with the
stack's permissions boundary: the function allowed to make roles can make nothing that reaches further.

IAM is eventually consistent: a new role (or a changed policy) may not yet be assumable by ECS when
the job starts, and the job would fail at its first download. So a run waits until its role is
`settle_seconds` old (or that long after its policy changed) before its job is submitted; a person's
later runs find it ready.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from nsclient_common.s3errors import error_code

if TYPE_CHECKING:
    from types_boto3_iam import IAMClient

ROLE_NAME_PREFIX = "nsclient-job-"
POLICY_NAME = "OwnRunFolders"
OBJECT_ACTIONS = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
# What an owner id (the IAM unique id naming their folders) is made of: AIDA... for a user, AROA...:<session>
# for a role session, whose names take [\w+=,.@-]. Nothing that a policy would read as a wildcard or variable.
OWNER_ID = re.compile(r"[A-Za-z0-9+=,.@_:-]{1,128}")


class NotAnOwner(ValueError):
    """A folder name that cannot be a person's IAM unique id (it would widen the role's reach)."""


@dataclass(frozen=True)
class JobRoleSettings:
    bucket: str
    path: str  # the stack's IAM path, /nsclient/<region>/<stack>/
    boundary_arn: str  # the stack's permissions boundary for job roles
    settle_seconds: float

    @property
    def partition(self) -> str:
        return self.boundary_arn.split(":")[1]


def check_owner(owner: str | None) -> None:
    if owner is not None and not OWNER_ID.fullmatch(owner):
        raise NotAnOwner(f"{owner!r} is not an IAM unique id")


def role_name(path: str, owner: str | None) -> str:
    """The owner's role: the same name on every run, unique to the stack (IAM names are account-wide)."""
    digest = hashlib.sha256(f"{path}\0{owner or ''}".encode()).hexdigest()[:32]
    return f"{ROLE_NAME_PREFIX}{digest}"


def trust_policy() -> dict[str, Any]:
    """ECS assumes the role for the job's container (Batch on EC2 and Fargate alike)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }


def role_policy(settings: JobRoleSettings, owner: str | None) -> dict[str, Any]:
    """The owner's run folders: fetch the upload and env.d, write the results back, delete the env.d."""
    check_owner(owner)
    bucket = f"arn:{settings.partition}:s3:::{settings.bucket}"
    if owner is None:
        # Runs dropped directly into inbox/ (by an admin) live at runs/<run-id>/; people's are one level deeper.
        return {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "OwnerlessRunFolders",
                    "Effect": "Allow",
                    "Action": OBJECT_ACTIONS,
                    "Resource": f"{bucket}/runs/*",
                },
                {"Sid": "NotPeoplesFolders", "Effect": "Deny", "Action": "s3:*", "Resource": f"{bucket}/runs/*/*/*"},
            ],
        }
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "OwnRunFolders",
                "Effect": "Allow",
                "Action": OBJECT_ACTIONS,
                "Resource": f"{bucket}/runs/{owner}/*",
            },
            {
                # A read of a missing object then answers 404, not 403, as the image's aws s3 cp expects.
                "Sid": "ListOwnRunFolders",
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": bucket,
                "Condition": {"StringLike": {"s3:prefix": f"runs/{owner}/*"}},
            },
        ],
    }


@dataclass(frozen=True)
class JobRole:
    arn: str
    usable_at: datetime  # when ECS can be trusted to assume it


def _missing(error: ClientError) -> bool:
    return error_code(error) == "NoSuchEntity"


def ensure_job_role(iam: IAMClient, settings: JobRoleSettings, owner: str | None) -> JobRole:
    """The owner's role, made (under the boundary) or brought up to date; when it is usable."""
    check_owner(owner)
    name = role_name(settings.path, owner)
    try:
        role = iam.get_role(RoleName=name)["Role"]
    except ClientError as error:
        if not _missing(error):
            raise
        try:
            role = iam.create_role(
                RoleName=name,
                Path=settings.path,
                AssumeRolePolicyDocument=json.dumps(trust_policy()),
                PermissionsBoundary=settings.boundary_arn,
                Description=f"nsclient build jobs of {owner or 'runs with no owner'}"[:1000],
            )["Role"]
        except ClientError as race:  # another run of the same person made it first
            if error_code(race) != "EntityAlreadyExists":
                raise
            role = iam.get_role(RoleName=name)["Role"]
    usable_at = role["CreateDate"].astimezone(UTC) + timedelta(seconds=settings.settle_seconds)
    wanted = role_policy(settings, owner)
    try:
        current: Any = iam.get_role_policy(RoleName=name, PolicyName=POLICY_NAME)["PolicyDocument"]
    except ClientError as error:
        if not _missing(error):
            raise
        current = None
    if current != wanted:
        iam.put_role_policy(RoleName=name, PolicyName=POLICY_NAME, PolicyDocument=json.dumps(wanted))
        usable_at = max(usable_at, datetime.now(UTC) + timedelta(seconds=settings.settle_seconds))
    return JobRole(role["Arn"], usable_at)


def wait_until_usable(role: JobRole) -> None:
    """Sleep until the role is usable (seconds, on a person's first run; nothing on later ones)."""
    remaining = (role.usable_at - datetime.now(UTC)).total_seconds()
    if remaining > 0:
        time.sleep(remaining)
