"""Who calls AWS in the local backend, and with which credentials: the principals AWS would have.

Each function and the state machine run as the role SAM makes for them, the Batch job as its job
definition's job role, and a person as an IAM user in the stack's users group: all created in moto's
IAM from the expanded template (nsclient.local.sam), so their policies are the ones that deploy.
An administrator stands for AWS itself and for tests looking at what happened.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nsclient.local.template import Resolver

ADMIN_USER = "nsclient-local-admin"
LOCAL_USER = "nsclient-local-user"
# The template's groups: people, and team admins who see every run.
USERS_GROUP = "NsclientUsersGroup"
ADMINS_GROUP = "NsclientAdminsGroup"
ADMINISTRATOR_ACCESS = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
# IAM names are at most 64 characters.
_NAME_LIMIT = 64


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    secret_access_key: str
    session_token: str | None = None

    def client_kwargs(self) -> dict[str, Any]:
        return {
            "aws_access_key_id": self.access_key_id,
            "aws_secret_access_key": self.secret_access_key,
            "aws_session_token": self.session_token,
        }

    def environment(self) -> dict[str, str]:
        """As AWS gives them to a Lambda function or a container."""
        variables = {"AWS_ACCESS_KEY_ID": self.access_key_id, "AWS_SECRET_ACCESS_KEY": self.secret_access_key}
        if self.session_token:
            variables["AWS_SESSION_TOKEN"] = self.session_token
        return variables

    def to_dict(self) -> dict[str, str | None]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Credentials:
        return cls(data["access_key_id"], data["secret_access_key"], data.get("session_token"))


def _of_type(resources: dict[str, Any], kind: str, resolver: Resolver) -> dict[str, dict[str, Any]]:
    """Resources of a type whose Condition holds (the others are not created)."""
    return {
        logical: resource
        for logical, resource in resources.items()
        if resource.get("Type") == kind and (not resource.get("Condition") or resolver.condition(resource["Condition"]))
    }


def _document(value: Any) -> str:
    """A policy as IAM stores it. SAM writes its policies without a Version, which IAM reads as the
    2008-10-17 language (moto refuses them): the same except that policy variables are not
    substituted, so a versionless policy that uses one would not work on AWS either."""
    if isinstance(value, dict) and "Statement" in value and "Version" not in value:
        if "${aws:" in json.dumps(value):
            raise ValueError(f"a policy without Version 2012-10-17 uses a policy variable: {value}")
        value = {"Version": "2012-10-17", **value}
    return json.dumps(value)


def create_user(iam: Any, name: str, groups: list[str], inline: dict[str, Any] | None = None) -> Credentials:
    """An IAM user in these groups (and with this inline policy), and its access key."""
    iam.create_user(UserName=name)
    for group in groups:
        iam.add_user_to_group(GroupName=group, UserName=name)
    if inline is not None:
        iam.put_user_policy(UserName=name, PolicyName="inline", PolicyDocument=_document(inline))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return Credentials(key["AccessKeyId"], key["SecretAccessKey"])


@dataclass
class StackPrincipals:
    """The IAM side of the stack, created in moto while it does not yet check anything."""

    iam: Any
    sts: Any
    resolver: Resolver
    expanded: dict[str, Any]
    stack_name: str
    account: str

    def name_for(self, logical: str) -> str:
        return f"{self.stack_name}-{logical}"[:_NAME_LIMIT]

    def name_resources(self) -> None:
        """Names and ARNs of the IAM resources, for the Resolver (policies refer to each other)."""
        resources = self.expanded["Resources"]
        for kind, arn_kind in (("AWS::IAM::Role", "role"), ("AWS::IAM::Group", "group")):
            for logical in _of_type(resources, kind, self.resolver):
                self.resolver.names[logical] = self.name_for(logical)
                self.resolver.arns[logical] = f"arn:aws:iam::{self.account}:{arn_kind}/{self.name_for(logical)}"
        for logical in _of_type(resources, "AWS::IAM::ManagedPolicy", self.resolver):
            self.resolver.names[logical] = f"arn:aws:iam::{self.account}:policy/{self.name_for(logical)}"

    def create(self) -> None:
        resources = self.expanded["Resources"]
        r = self.resolver
        for logical, resource in _of_type(resources, "AWS::IAM::Role", r).items():
            properties = r.resolve(resource["Properties"])
            name = self.name_for(logical)
            self.iam.create_role(
                RoleName=name, AssumeRolePolicyDocument=_document(properties["AssumeRolePolicyDocument"])
            )
            for policy in properties.get("Policies", []):
                self.iam.put_role_policy(
                    RoleName=name, PolicyName=policy["PolicyName"], PolicyDocument=_document(policy["PolicyDocument"])
                )
            for arn in properties.get("ManagedPolicyArns", []):
                self.iam.attach_role_policy(RoleName=name, PolicyArn=arn)
        for logical, resource in _of_type(resources, "AWS::IAM::Group", r).items():
            properties = r.resolve(resource.get("Properties", {}))
            name = self.name_for(logical)
            self.iam.create_group(GroupName=name)
            for policy in properties.get("Policies", []):
                self.iam.put_group_policy(
                    GroupName=name, PolicyName=policy["PolicyName"], PolicyDocument=_document(policy["PolicyDocument"])
                )
            for arn in properties.get("ManagedPolicyArns", []):
                self.iam.attach_group_policy(GroupName=name, PolicyArn=arn)
        for logical, resource in _of_type(resources, "AWS::IAM::ManagedPolicy", r).items():
            properties = r.resolve(resource["Properties"])
            arn = self.iam.create_policy(
                PolicyName=self.name_for(logical), PolicyDocument=_document(properties["PolicyDocument"])
            )["Policy"]["Arn"]
            for group in properties.get("Groups", []):
                self.iam.attach_group_policy(GroupName=group, PolicyArn=arn)
            for role in properties.get("Roles", []):
                self.iam.attach_role_policy(RoleName=role, PolicyArn=arn)
            for user in properties.get("Users", []):
                self.iam.attach_user_policy(UserName=user, PolicyArn=arn)

    def role_of(self, logical: str) -> str:
        """The ARN of the role a function or state machine runs as (SAM's Role / RoleArn)."""
        properties = self.expanded["Resources"][logical]["Properties"]
        return str(self.resolver.resolve(properties.get("Role") or properties["RoleArn"]))

    def assume(self, role_arn: str, session_name: str) -> Credentials:
        """The role's credentials, as Lambda, Step Functions or ECS get them for it."""
        credentials = self.sts.assume_role(RoleArn=role_arn, RoleSessionName=session_name[:64])["Credentials"]
        return Credentials(credentials["AccessKeyId"], credentials["SecretAccessKey"], credentials["SessionToken"])

    def user(self, name: str, groups: list[str], inline: dict[str, Any] | None = None) -> Credentials:
        return create_user(self.iam, name, groups, inline)

    def group(self, logical: str) -> str:
        """The name of one of the template's IAM groups (NsclientUsersGroup, NsclientAdminsGroup)."""
        return self.name_for(logical)
