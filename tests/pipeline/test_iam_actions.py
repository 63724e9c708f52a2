"""Each request is judged as the IAM action AWS names for it, on the resource AWS names: for every
operation the AWS CLI, boto3 and s3fs use on S3, Batch, CloudWatch Logs, SNS and Step Functions, the
actions and resources strict IAM asks the evaluator about, against the Service Authorization Reference.

The caller may do anything (one Allow of * on *), so every call goes through and is recorded; a call the
evaluator finds malformed (an action that does not exist, a resource of a type the action does not take)
would be refused even so. Calls naming things that do not exist are authorized before they fail, as on AWS.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError

from nsclient.local import strict_iam
from nsclient.local.principals import create_user

if TYPE_CHECKING:
    from tests.support import Backend

ACCOUNT = "123456789012"
REGION = "us-east-1"
ANYTHING = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
PART = b"p" * (5 * 1024 * 1024)  # every part but the last is at least 5 MiB


@dataclass
class Caller:
    """A user allowed everything, their clients, and a bucket of their own with one object in it."""

    arn: str
    clients: dict[str, Any]
    bucket: str
    key: str
    version: str

    def __getattr__(self, service: str) -> Any:
        return self.clients[service]


@pytest.fixture(scope="module")
def caller(local_backend: Backend) -> Caller:
    name = f"actions-{uuid.uuid4().hex[:8]}"
    credentials = create_user(local_backend.client("iam"), name, [], inline=ANYTHING)
    clients = {
        service: local_backend.client_as(service, credentials)
        for service in ("s3", "batch", "logs", "sns", "stepfunctions")
    }
    s3 = local_backend.client("s3")
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    version = s3.put_object(Bucket=name, Key="in/k.zip", Body=b"zip")["VersionId"]
    return Caller(f"arn:aws:iam::{ACCOUNT}:user/{name}", clients, name, "in/k.zip", version)


def _asked(caller: Caller, call: Callable[[Caller], object]) -> list[tuple[str, str]]:
    """(action, resource) of every decision strict IAM made for the caller's one call, each allowed."""
    enforcement = strict_iam.ENFORCEMENT
    assert enforcement is not None
    before = len(enforcement.decisions)
    try:
        call(caller)
    except ClientError as error:  # a missing resource: authorized first, as AWS does
        assert error.response["Error"]["Code"] not in ("AccessDenied", "AccessDeniedException", "403"), error
    made = [d for d in enforcement.decisions[before:] if d.principal == caller.arn]
    assert all(d.allowed for d in made), [str(d) for d in made]
    return [(d.action, d.resource) for d in made]


def _upload(c: Caller, key: str) -> str:
    return str(c.s3.create_multipart_upload(Bucket=c.bucket, Key=key)["UploadId"])


# --- S3 -------------------------------------------------------------------------------------

BUCKET = "arn:aws:s3:::{bucket}"
OBJECT = "arn:aws:s3:::{bucket}/{key}"

S3_OPERATIONS: dict[str, tuple[Callable[[Caller], object], list[tuple[str, str]]]] = {
    "ListBuckets": (lambda c: c.s3.list_buckets(), [("s3:ListAllMyBuckets", "*")]),
    # HeadBucket has no action of its own: AWS authorizes it as s3:ListBucket (s3fs, and so the
    # Nextstrain CLI, calls it first). https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadBucket.html
    "HeadBucket": (lambda c: c.s3.head_bucket(Bucket=c.bucket), [("s3:ListBucket", BUCKET)]),
    "GetBucketLocation": (lambda c: c.s3.get_bucket_location(Bucket=c.bucket), [("s3:GetBucketLocation", BUCKET)]),
    "GetBucketVersioning": (
        lambda c: c.s3.get_bucket_versioning(Bucket=c.bucket),
        [("s3:GetBucketVersioning", BUCKET)],
    ),
    "ListObjectsV2": (lambda c: c.s3.list_objects_v2(Bucket=c.bucket, Prefix="in/"), [("s3:ListBucket", BUCKET)]),
    "ListObjects": (lambda c: c.s3.list_objects(Bucket=c.bucket), [("s3:ListBucket", BUCKET)]),
    # ListObjectVersions is authorized as s3:ListBucketVersions.
    # https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectVersions.html
    "ListObjectVersions": (lambda c: c.s3.list_object_versions(Bucket=c.bucket), [("s3:ListBucketVersions", BUCKET)]),
    "ListMultipartUploads": (
        lambda c: c.s3.list_multipart_uploads(Bucket=c.bucket),
        [("s3:ListBucketMultipartUploads", BUCKET)],
    ),
    # HeadObject is authorized as s3:GetObject, of the version it names as s3:GetObjectVersion.
    # https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html
    "HeadObject": (lambda c: c.s3.head_object(Bucket=c.bucket, Key=c.key), [("s3:GetObject", OBJECT)]),
    "HeadObject version": (
        lambda c: c.s3.head_object(Bucket=c.bucket, Key=c.key, VersionId=c.version),
        [("s3:GetObjectVersion", OBJECT)],
    ),
    "GetObject range": (
        lambda c: c.s3.get_object(Bucket=c.bucket, Key=c.key, Range="bytes=0-1"),
        [("s3:GetObject", OBJECT)],
    ),
    "GetObject version": (
        lambda c: c.s3.get_object(Bucket=c.bucket, Key=c.key, VersionId=c.version),
        [("s3:GetObjectVersion", OBJECT)],
    ),
    # A read of a missing object also asks s3:ListBucket: with it the answer is 404, without it 403.
    "GetObject missing": (
        lambda c: c.s3.get_object(Bucket=c.bucket, Key="in/none"),
        [("s3:GetObject", "arn:aws:s3:::{bucket}/in/none"), ("s3:ListBucket", BUCKET)],
    ),
    "PutObject": (lambda c: c.s3.put_object(Bucket=c.bucket, Key=c.key, Body=b"zip"), [("s3:PutObject", OBJECT)]),
    # Tags given with the object need s3:PutObjectTagging too.
    "PutObject tagged": (
        lambda c: c.s3.put_object(Bucket=c.bucket, Key=c.key, Body=b"zip", Tagging="a=b"),
        [("s3:PutObject", OBJECT), ("s3:PutObjectTagging", OBJECT)],
    ),
    # CopyObject reads the source as s3:GetObject and writes the destination as s3:PutObject.
    "CopyObject": (
        lambda c: c.s3.copy_object(Bucket=c.bucket, Key="out/copy", CopySource={"Bucket": c.bucket, "Key": c.key}),
        [("s3:PutObject", "arn:aws:s3:::{bucket}/out/copy"), ("s3:GetObject", OBJECT)],
    ),
    "CopyObject version": (
        lambda c: c.s3.copy_object(
            Bucket=c.bucket, Key="out/copy", CopySource={"Bucket": c.bucket, "Key": c.key, "VersionId": c.version}
        ),
        [("s3:PutObject", "arn:aws:s3:::{bucket}/out/copy"), ("s3:GetObjectVersion", OBJECT)],
    ),
    # Every step of a multipart upload is s3:PutObject, but listing its parts and aborting it.
    # https://docs.aws.amazon.com/AmazonS3/latest/userguide/mpuoverview.html#mpuAndPermissions
    "CreateMultipartUpload": (
        lambda c: c.s3.create_multipart_upload(Bucket=c.bucket, Key="big/one"),
        [("s3:PutObject", "arn:aws:s3:::{bucket}/big/one")],
    ),
    "UploadPart": (
        lambda c: c.s3.upload_part(
            Bucket=c.bucket, Key="big/two", UploadId=_upload(c, "big/two"), PartNumber=1, Body=PART
        ),
        [("s3:PutObject", "arn:aws:s3:::{bucket}/big/two")] * 2,
    ),
    "UploadPartCopy": (
        lambda c: c.s3.upload_part_copy(
            Bucket=c.bucket,
            Key="big/three",
            UploadId=_upload(c, "big/three"),
            PartNumber=1,
            CopySource={"Bucket": c.bucket, "Key": c.key},
        ),
        [("s3:PutObject", "arn:aws:s3:::{bucket}/big/three")] * 2 + [("s3:GetObject", OBJECT)],
    ),
    "ListParts": (
        lambda c: c.s3.list_parts(Bucket=c.bucket, Key="big/four", UploadId=_upload(c, "big/four")),
        [
            ("s3:PutObject", "arn:aws:s3:::{bucket}/big/four"),
            ("s3:ListMultipartUploadParts", "arn:aws:s3:::{bucket}/big/four"),
        ],
    ),
    "CompleteMultipartUpload": (
        lambda c: _complete(c, "big/five"),
        [("s3:PutObject", "arn:aws:s3:::{bucket}/big/five")] * 3,
    ),
    "AbortMultipartUpload": (
        lambda c: c.s3.abort_multipart_upload(Bucket=c.bucket, Key="big/six", UploadId=_upload(c, "big/six")),
        [
            ("s3:PutObject", "arn:aws:s3:::{bucket}/big/six"),
            ("s3:AbortMultipartUpload", "arn:aws:s3:::{bucket}/big/six"),
        ],
    ),
    "GetObjectTagging": (
        lambda c: c.s3.get_object_tagging(Bucket=c.bucket, Key=c.key),
        [("s3:GetObjectTagging", OBJECT)],
    ),
    "PutObjectTagging": (
        lambda c: c.s3.put_object_tagging(Bucket=c.bucket, Key=c.key, Tagging={"TagSet": [{"Key": "a", "Value": "b"}]}),
        [("s3:PutObjectTagging", OBJECT)],
    ),
    "DeleteObjectTagging": (
        lambda c: c.s3.delete_object_tagging(Bucket=c.bucket, Key=c.key),
        [("s3:DeleteObjectTagging", OBJECT)],
    ),
    "DeleteObject": (
        lambda c: c.s3.delete_object(Bucket=c.bucket, Key="gone/a"),
        [("s3:DeleteObject", "arn:aws:s3:::{bucket}/gone/a")],
    ),
    "DeleteObject version": (
        lambda c: c.s3.delete_object(Bucket=c.bucket, Key="gone/a", VersionId="null"),
        [("s3:DeleteObjectVersion", "arn:aws:s3:::{bucket}/gone/a")],
    ),
    # DeleteObjects is authorized object by object, as DeleteObject.
    # https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObjects.html
    "DeleteObjects": (
        lambda c: c.s3.delete_objects(Bucket=c.bucket, Delete={"Objects": [{"Key": "gone/b"}, {"Key": "gone/c"}]}),
        [("s3:DeleteObject", "arn:aws:s3:::{bucket}/gone/b"), ("s3:DeleteObject", "arn:aws:s3:::{bucket}/gone/c")],
    ),
}


def _complete(c: Caller, key: str) -> object:
    upload = _upload(c, key)
    etag = c.s3.upload_part(Bucket=c.bucket, Key=key, UploadId=upload, PartNumber=1, Body=b"last")["ETag"]
    return c.s3.complete_multipart_upload(
        Bucket=c.bucket, Key=key, UploadId=upload, MultipartUpload={"Parts": [{"ETag": etag, "PartNumber": 1}]}
    )


@pytest.mark.parametrize("operation", list(S3_OPERATIONS))
def test_s3_operation_asks_for_the_documented_action(caller: Caller, operation: str) -> None:
    call, expected = S3_OPERATIONS[operation]
    wanted = [(action, resource.format(bucket=caller.bucket, key=caller.key)) for action, resource in expected]
    assert _asked(caller, call) == wanted


# --- Batch, CloudWatch Logs, SNS, Step Functions ---------------------------------------------

QUEUE = f"arn:aws:batch:{REGION}:{ACCOUNT}:job-queue/actions-queue"
DEFINITION = f"arn:aws:batch:{REGION}:{ACCOUNT}:job-definition/actions-job:3"
GROUP = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/actions/group"
STREAM = f"{GROUP}:log-stream:one"
TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:actions-topic"
MACHINE = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:actions-machine"
EXECUTION = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:actions-machine:run-1"

OTHER_OPERATIONS: dict[str, tuple[Callable[[Caller], object], list[tuple[str, str]]]] = {
    # SubmitJob is authorized on both the queue and the definition (its revision).
    "batch SubmitJob": (
        lambda c: c.batch.submit_job(jobName="j", jobQueue="actions-queue", jobDefinition="actions-job:3"),
        [("batch:SubmitJob", QUEUE), ("batch:SubmitJob", DEFINITION)],
    ),
    "batch DescribeJobs": (lambda c: c.batch.describe_jobs(jobs=["id-1"]), [("batch:DescribeJobs", "*")]),
    "batch ListJobs": (lambda c: c.batch.list_jobs(jobQueue="actions-queue"), [("batch:ListJobs", "*")]),
    "batch DescribeJobQueues": (lambda c: c.batch.describe_job_queues(), [("batch:DescribeJobQueues", "*")]),
    "batch DescribeJobDefinitions": (
        lambda c: c.batch.describe_job_definitions(),
        [("batch:DescribeJobDefinitions", "*")],
    ),
    "batch TerminateJob": (
        lambda c: c.batch.terminate_job(jobId="id-1", reason="r"),
        [("batch:TerminateJob", f"arn:aws:batch:{REGION}:{ACCOUNT}:job/id-1")],
    ),
    "batch CancelJob": (
        lambda c: c.batch.cancel_job(jobId="id-1", reason="r"),
        [("batch:CancelJob", f"arn:aws:batch:{REGION}:{ACCOUNT}:job/id-1")],
    ),
    "logs GetLogEvents": (
        lambda c: c.logs.get_log_events(logGroupName="/actions/group", logStreamName="one"),
        [("logs:GetLogEvents", STREAM)],
    ),
    "logs FilterLogEvents": (
        lambda c: c.logs.filter_log_events(logGroupName="/actions/group"),
        [("logs:FilterLogEvents", GROUP)],
    ),
    "logs DescribeLogStreams": (
        lambda c: c.logs.describe_log_streams(logGroupName="/actions/group"),
        [("logs:DescribeLogStreams", GROUP)],
    ),
    "logs DescribeLogGroups": (
        lambda c: c.logs.describe_log_groups(logGroupNamePrefix="/actions/"),
        [("logs:DescribeLogGroups", "*")],
    ),
    "logs PutLogEvents": (
        lambda c: c.logs.put_log_events(
            logGroupName="/actions/group", logStreamName="one", logEvents=[{"timestamp": 1, "message": "m"}]
        ),
        [("logs:PutLogEvents", STREAM)],
    ),
    "logs DeleteLogStream": (
        lambda c: c.logs.delete_log_stream(logGroupName="/actions/group", logStreamName="one"),
        [("logs:DeleteLogStream", STREAM)],
    ),
    "sns Publish": (lambda c: c.sns.publish(TopicArn=TOPIC, Message="m"), [("sns:Publish", TOPIC)]),
    "sns Subscribe": (
        lambda c: c.sns.subscribe(TopicArn=TOPIC, Protocol="email", Endpoint="a@example.org"),
        [("sns:Subscribe", TOPIC)],
    ),
    "sns ListSubscriptionsByTopic": (
        lambda c: c.sns.list_subscriptions_by_topic(TopicArn=TOPIC),
        [("sns:ListSubscriptionsByTopic", TOPIC)],
    ),
    "sns GetTopicAttributes": (
        lambda c: c.sns.get_topic_attributes(TopicArn=TOPIC),
        [("sns:GetTopicAttributes", TOPIC)],
    ),
    "sns ListTopics": (lambda c: c.sns.list_topics(), [("sns:ListTopics", "*")]),
    "states StartExecution": (
        lambda c: c.stepfunctions.start_execution(stateMachineArn=MACHINE, name="run-1", input=json.dumps({})),
        [("states:StartExecution", MACHINE)],
    ),
    "states DescribeExecution": (
        lambda c: c.stepfunctions.describe_execution(executionArn=EXECUTION),
        [("states:DescribeExecution", EXECUTION)],
    ),
    "states StopExecution": (
        lambda c: c.stepfunctions.stop_execution(executionArn=EXECUTION),
        [("states:StopExecution", EXECUTION)],
    ),
    "states GetExecutionHistory": (
        lambda c: c.stepfunctions.get_execution_history(executionArn=EXECUTION),
        [("states:GetExecutionHistory", EXECUTION)],
    ),
    "states ListExecutions": (
        lambda c: c.stepfunctions.list_executions(stateMachineArn=MACHINE),
        [("states:ListExecutions", MACHINE)],
    ),
    "states DescribeStateMachine": (
        lambda c: c.stepfunctions.describe_state_machine(stateMachineArn=MACHINE),
        [("states:DescribeStateMachine", MACHINE)],
    ),
    "states ListStateMachines": (
        lambda c: c.stepfunctions.list_state_machines(),
        [("states:ListStateMachines", "*")],
    ),
}


@pytest.mark.parametrize("operation", list(OTHER_OPERATIONS))
def test_operation_asks_for_the_documented_action(caller: Caller, operation: str) -> None:
    call, expected = OTHER_OPERATIONS[operation]
    assert _asked(caller, call) == expected
