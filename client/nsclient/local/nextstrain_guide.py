"""A team's existing AWS Batch setup, made exactly as the Nextstrain CLI's AWS Batch guide says
(nextstrain/cli doc/aws-batch.md): the default shape of our stack (CreateBatchEnvironment=false)
runs its jobs there, so the local backend makes the same setup to run them in.

The three policies are the guide's documents as printed, with its example bucket name: the team's
own jobs bucket, which is not ours. The job role has only NextstrainJobsAccessToBucket attached,
as the guide says; the users group has all three.
"""

from __future__ import annotations

from typing import Any

from nsclient_common.layout import DEFAULT_LOG_GROUP

JOBS_BUCKET = "nextstrain-jobs"
JOB_ROLE = "NextstrainJobsRole"
LOG_GROUP = DEFAULT_LOG_GROUP  # Batch's own default, made on a team's first job
USERS_GROUP = "nextstrain-users"
JOB_TIMEOUT_SECONDS = 14400
IMAGE = "nextstrain/base:latest"

ACCESS_TO_BATCH: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "VisualEditor0",
            "Effect": "Allow",
            "Action": [
                "batch:DescribeJobQueues",
                "batch:TerminateJob",
                "batch:DescribeJobs",
                "batch:CancelJob",
                "batch:SubmitJob",
                "batch:DescribeJobDefinitions",
                "batch:RegisterJobDefinition",
            ],
            "Resource": "*",
        },
        {
            "Sid": "VisualEditor1",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": "arn:aws:iam::*:role/NextstrainJobsRole",
        },
    ],
}

ACCESS_TO_BUCKET: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "VisualEditor0",
            "Effect": "Allow",
            "Action": ["s3:PutObject", "s3:GetObject", "s3:ListBucket", "s3:DeleteObject"],
            "Resource": [f"arn:aws:s3:::{JOBS_BUCKET}/*", f"arn:aws:s3:::{JOBS_BUCKET}"],
        }
    ],
}

ACCESS_TO_LOGS: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "VisualEditor0",
            "Effect": "Allow",
            "Action": ["logs:GetLogEvents", "logs:FilterLogEvents", "logs:DeleteLogStream"],
            "Resource": [
                "arn:aws:logs:*:*:log-group:/aws/batch/job",
                "arn:aws:logs:*:*:log-group:/aws/batch/job:log-stream:*",
            ],
        }
    ],
}

POLICIES = {
    "NextstrainJobsAccessToBatch": ACCESS_TO_BATCH,
    "NextstrainJobsAccessToBucket": ACCESS_TO_BUCKET,
    "NextstrainJobsAccessToLogs": ACCESS_TO_LOGS,
}

# "AWS service" as the trusted entity, Elastic Container Service Task as the use case.
JOB_ROLE_TRUST: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}

# The guide's job definition: the stock image, an empty command, a 4 h timeout, the job role.
JOB_CONTAINER: dict[str, Any] = {
    "image": IMAGE,
    "command": [],
    "resourceRequirements": [{"type": "VCPU", "value": "4"}, {"type": "MEMORY", "value": "7400"}],
}


def create(iam: Any, s3: Any, logs: Any) -> str:
    """The guide's policies, role, group, jobs bucket and log group; returns the job role's ARN."""
    arns = {
        name: iam.create_policy(PolicyName=name, PolicyDocument=_json(document))["Policy"]["Arn"]
        for name, document in POLICIES.items()
    }
    role_arn: str = iam.create_role(RoleName=JOB_ROLE, AssumeRolePolicyDocument=_json(JOB_ROLE_TRUST))["Role"]["Arn"]
    iam.attach_role_policy(RoleName=JOB_ROLE, PolicyArn=arns["NextstrainJobsAccessToBucket"])
    iam.create_group(GroupName=USERS_GROUP)
    for arn in arns.values():
        iam.attach_group_policy(GroupName=USERS_GROUP, PolicyArn=arn)
    s3.create_bucket(Bucket=JOBS_BUCKET)
    # Batch makes this group on a team's first job; it exists before our stack does.
    logs.create_log_group(logGroupName=LOG_GROUP)
    return role_arn


def _json(document: dict[str, Any]) -> str:
    import json

    return json.dumps(document)
