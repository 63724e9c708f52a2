"""What IAM authorizes for one AWS request: its actions, the resources they act on, and the
request's condition keys, as AWS's Service Authorization Reference describes them.

moto names the action of every request, but it checks non-S3 requests against the resource "*", so
a policy scoped to an ARN would be judged wrongly. These rules give the real resource of each call
nsclient makes (and a few more), from the request itself. A call not described here is judged
against "*", which an action with resource types then refuses as malformed: it shows up at once.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

# Requests come from the SDKs over HTTPS on AWS; the local endpoint is plain HTTP on loopback only.
SECURE_TRANSPORT = {"aws:SecureTransport": "true"}
# S3 list operations that take s3:prefix (and the bucket as their resource).
_S3_LISTS = {"s3:ListBucket", "s3:ListBucketVersions", "s3:ListBucketMultipartUploads"}


@dataclass(frozen=True)
class Call:
    action: str
    resource: str
    context: dict[str, str] = field(default_factory=dict)

    def key(self) -> str:
        return json.dumps([self.action, self.resource, self.context], sort_keys=True)


@dataclass(frozen=True)
class Request:
    """The parts of an HTTP request that decide what it asks of IAM."""

    action: str  # "service:Operation", as moto names it
    region: str
    account: str
    method: str
    path: str
    data: dict[str, Any]  # query string and form parameters
    body: bytes
    headers: dict[str, str]
    moto_resource: str  # what moto would check (an ARN for S3, "*" elsewhere)

    def json(self) -> dict[str, Any]:
        try:
            parsed = json.loads(self.body or b"{}")
        except ValueError:
            return {}
        return parsed if isinstance(parsed, dict) else {}

    def param(self, name: str) -> str | None:
        value = self.data.get(name)
        if isinstance(value, list):
            value = value[0] if value else None
        if value is None:
            value = self.json().get(name)
        return None if value is None else str(value)

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{self.account}:{resource}"


def calls_for(request: Request) -> list[Call]:
    service, operation = request.action.split(":", 1)
    request = dataclasses.replace(request, action=f"{service}:{_operation_name(service, operation)}")
    describe = _DESCRIBERS.get(service)
    if describe is None:
        return [Call(request.action, request.moto_resource, dict(SECURE_TRANSPORT))]
    return [Call(c.action, c.resource, {**SECURE_TRANSPORT, **c.context}) for c in describe(request)]


# IAM's service prefixes whose botocore model has another name.
_BOTOCORE_NAMES = {"states": "stepfunctions"}


@functools.cache
def _operations(service: str) -> dict[str, str]:
    from botocore.loaders import create_loader

    try:
        model = create_loader().load_service_model(_BOTOCORE_NAMES.get(service, service), "service-2")
    except Exception:  # a service botocore does not know: keep moto's names
        return {}
    return {name.lower(): name for name in model["operations"]}


def _operation_name(service: str, operation: str) -> str:
    """moto names REST operations from their URL in lower case (batch:submitjob): the API's name."""
    return _operations(service).get(operation.lower(), operation)


# The S3 API's bucket subresources (a query parameter naming what a request reads or writes) and the IAM
# action of a GET, PUT and DELETE of each, as the Service Authorization Reference names them. Deleting a
# configuration is authorized as putting one (DeleteBucketLifecycle: s3:PutLifecycleConfiguration).
_BUCKET_SUBRESOURCES: dict[str, tuple[str, str, str | None]] = {
    "accelerate": ("s3:GetAccelerateConfiguration", "s3:PutAccelerateConfiguration", None),
    "acl": ("s3:GetBucketAcl", "s3:PutBucketAcl", None),
    "cors": ("s3:GetBucketCORS", "s3:PutBucketCORS", "s3:PutBucketCORS"),
    "encryption": ("s3:GetEncryptionConfiguration", "s3:PutEncryptionConfiguration", "s3:PutEncryptionConfiguration"),
    "lifecycle": ("s3:GetLifecycleConfiguration", "s3:PutLifecycleConfiguration", "s3:PutLifecycleConfiguration"),
    "location": ("s3:GetBucketLocation", "s3:GetBucketLocation", None),
    "logging": ("s3:GetBucketLogging", "s3:PutBucketLogging", None),
    "notification": ("s3:GetBucketNotification", "s3:PutBucketNotification", None),
    "object-lock": ("s3:GetBucketObjectLockConfiguration", "s3:PutBucketObjectLockConfiguration", None),
    "ownershipControls": (
        "s3:GetBucketOwnershipControls",
        "s3:PutBucketOwnershipControls",
        "s3:PutBucketOwnershipControls",
    ),
    "policy": ("s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy"),
    "policyStatus": ("s3:GetBucketPolicyStatus", "s3:GetBucketPolicyStatus", None),
    "publicAccessBlock": (
        "s3:GetBucketPublicAccessBlock",
        "s3:PutBucketPublicAccessBlock",
        "s3:PutBucketPublicAccessBlock",
    ),
    "replication": (
        "s3:GetReplicationConfiguration",
        "s3:PutReplicationConfiguration",
        "s3:PutReplicationConfiguration",
    ),
    "requestPayment": ("s3:GetBucketRequestPayment", "s3:PutBucketRequestPayment", None),
    "tagging": ("s3:GetBucketTagging", "s3:PutBucketTagging", "s3:PutBucketTagging"),
    "uploads": ("s3:ListBucketMultipartUploads", "s3:ListBucketMultipartUploads", None),
    "versioning": ("s3:GetBucketVersioning", "s3:PutBucketVersioning", None),
    "versions": ("s3:ListBucketVersions", "s3:ListBucketVersions", None),
    "website": ("s3:GetBucketWebsite", "s3:PutBucketWebsite", "s3:DeleteBucketWebsite"),
}
# An object's subresources: (current version, a given version) for GET, PUT and DELETE.
_OBJECT_SUBRESOURCES: dict[str, dict[str, tuple[str, str]]] = {
    "acl": {"GET": ("s3:GetObjectAcl", "s3:GetObjectVersionAcl"), "PUT": ("s3:PutObjectAcl", "s3:PutObjectVersionAcl")},
    "tagging": {
        "GET": ("s3:GetObjectTagging", "s3:GetObjectVersionTagging"),
        "PUT": ("s3:PutObjectTagging", "s3:PutObjectVersionTagging"),
        "DELETE": ("s3:DeleteObjectTagging", "s3:DeleteObjectVersionTagging"),
    },
    "attributes": {"GET": ("s3:GetObjectAttributes", "s3:GetObjectVersionAttributes")},
    "retention": {
        "GET": ("s3:GetObjectRetention", "s3:GetObjectRetention"),
        "PUT": ("s3:PutObjectRetention", "s3:PutObjectRetention"),
    },
    "legal-hold": {
        "GET": ("s3:GetObjectLegalHold", "s3:GetObjectLegalHold"),
        "PUT": ("s3:PutObjectLegalHold", "s3:PutObjectLegalHold"),
    },
}


def _s3(request: Request) -> list[Call]:
    """The actions AWS authorizes an S3 request with, read from the request itself: moto's names are the
    API's operations (HeadBucket, ListObjectVersions), several of which are no IAM action."""
    resource = request.moto_resource
    query = parse_qs(urlparse(request.path).query, keep_blank_values=True)
    bucket, _, key = resource.removeprefix("arn:aws:s3:::").partition("/")
    if resource == "arn:aws:s3:::*" or not bucket or bucket == "*":
        return [Call("s3:ListAllMyBuckets", "*")]
    if not key:
        return _s3_bucket(request, bucket, query)
    return _s3_object(request, resource, query)


def _s3_bucket(request: Request, bucket: str, query: dict[str, list[str]]) -> list[Call]:
    arn = f"arn:aws:s3:::{bucket}"
    method = request.method
    if method == "POST" and "delete" in query:
        return _s3_delete_objects(request, bucket)
    found = next((name for name in _BUCKET_SUBRESOURCES if name in query), None)
    if found is not None:
        get, put, delete = _BUCKET_SUBRESOURCES[found]
        action = {"GET": get, "HEAD": get, "PUT": put, "DELETE": delete or put}.get(method, put)
    else:
        # HeadBucket is authorized as s3:ListBucket; ListObjects(V2) too, and PUT/DELETE make or remove the bucket.
        action = {"PUT": "s3:CreateBucket", "DELETE": "s3:DeleteBucket"}.get(method, "s3:ListBucket")
    context = {"s3:prefix": query.get("prefix", [""])[0]} if action in _S3_LISTS else {}
    return [Call(action, arn, context)]


def _s3_delete_objects(request: Request, bucket: str) -> list[Call]:
    """DeleteObjects is authorized per object it names, as each DeleteObject (or DeleteObjectVersion) would be."""
    import xml.etree.ElementTree as ElementTree

    try:
        root = ElementTree.fromstring(request.body or b"<Delete/>")  # noqa: S314 - from the local backend's clients
    except ElementTree.ParseError:
        return [Call("s3:DeleteObject", f"arn:aws:s3:::{bucket}/*")]
    calls = []
    for entry in root.iter():
        if entry.tag.rsplit("}", 1)[-1] != "Object":
            continue
        fields = {child.tag.rsplit("}", 1)[-1]: child.text or "" for child in entry}
        action = "s3:DeleteObjectVersion" if fields.get("VersionId") else "s3:DeleteObject"
        calls.append(Call(action, f"arn:aws:s3:::{bucket}/{fields.get('Key', '')}"))
    return calls or [Call("s3:DeleteObject", f"arn:aws:s3:::{bucket}/*")]


def _s3_object(request: Request, resource: str, query: dict[str, list[str]]) -> list[Call]:
    method, versioned = request.method, "versionId" in query
    found = next((name for name in _OBJECT_SUBRESOURCES if name in query), None)
    if found is not None and method in _OBJECT_SUBRESOURCES[found]:
        current, version = _OBJECT_SUBRESOURCES[found][method]
        return [Call(version if versioned else current, resource)]
    if method in ("GET", "HEAD"):
        if "uploadId" in query:
            return [Call("s3:ListMultipartUploadParts", resource)]
        # HeadObject is authorized as s3:GetObject (of the version it names).
        return [Call("s3:GetObjectVersion" if versioned else "s3:GetObject", resource)]
    if method == "DELETE":
        if "uploadId" in query:
            return [Call("s3:AbortMultipartUpload", resource)]
        return [Call("s3:DeleteObjectVersion" if versioned else "s3:DeleteObject", resource)]
    if method == "POST" and "restore" in query:
        return [Call("s3:RestoreObject", resource)]
    if method == "POST" and "select" in query:
        return [Call("s3:GetObject", resource)]
    # PutObject, CopyObject, CreateMultipartUpload, UploadPart(Copy), CompleteMultipartUpload: all s3:PutObject.
    calls = [Call("s3:PutObject", resource)]
    headers = {name.lower(): value for name, value in request.headers.items()}
    if "x-amz-tagging" in headers:
        calls.append(Call("s3:PutObjectTagging", resource))  # tags set with the object need their own grant
    if "x-amz-acl" in headers or any(name.startswith("x-amz-grant-") for name in headers):
        calls.append(Call("s3:PutObjectAcl", resource))
    source = headers.get("x-amz-copy-source")
    if source:
        # A copy reads its source with the caller's own permission, as a GET would.
        parsed = urlparse(unquote(source).lstrip("/"))
        read = "s3:GetObjectVersion" if "versionId" in parse_qs(parsed.query) else "s3:GetObject"
        calls.append(Call(read, f"arn:aws:s3:::{parsed.path}"))
    return calls


def _states(request: Request) -> list[Call]:
    operation = request.action.split(":", 1)[1]
    arn = request.param("executionArn") or request.param("stateMachineArn")
    if operation == "ListStateMachines":
        arn = "*"
    return [Call(request.action, arn or "*")]


def _job_definition_arn(request: Request, name: str) -> str:
    if name.startswith("arn:"):
        return name
    # By name alone Batch uses the latest active revision; IAM sees that revision's ARN.
    if ":" not in name:
        name = f"{name}:{_latest_revision(request, name)}"
    return request.arn("batch", f"job-definition/{name}")


def _latest_revision(request: Request, name: str) -> int:
    from moto.batch.models import batch_backends

    backend = batch_backends[request.account][request.region]
    revisions = [d.revision for d in backend._job_definitions.values() if d.name == name and d.status == "ACTIVE"]
    return max(revisions, default=1)


def _batch(request: Request) -> list[Call]:
    operation = request.action.split(":", 1)[1]
    body = request.json()
    if operation == "SubmitJob":
        queue = str(body.get("jobQueue", ""))
        queue_arn = queue if queue.startswith("arn:") else request.arn("batch", f"job-queue/{queue}")
        definition_arn = _job_definition_arn(request, str(body.get("jobDefinition", "")))
        return [Call(request.action, queue_arn), Call(request.action, definition_arn)]
    if operation in ("TerminateJob", "CancelJob"):
        return [Call(request.action, request.arn("batch", f"job/{body.get('jobId', '')}"))]
    if operation == "RegisterJobDefinition":
        name = str(body.get("jobDefinitionName", ""))
        calls = [Call(request.action, request.arn("batch", f"job-definition/{name}"))]
        role = (body.get("containerProperties") or {}).get("jobRoleArn")
        if role:
            # Registering a definition that names a job role passes that role to Batch.
            calls.append(Call("iam:PassRole", str(role), {"iam:PassedToService": "batch.amazonaws.com"}))
        return calls
    # DescribeJobs, ListJobs, DescribeJobQueues, DescribeJobDefinitions: no resource-level permissions.
    return [Call(request.action, "*")]


def _logs(request: Request) -> list[Call]:
    body = request.json()
    group, stream = body.get("logGroupName"), body.get("logStreamName")
    if group is None and body.get("logGroupIdentifier"):
        group = str(body["logGroupIdentifier"]).split(":log-group:")[-1]
    if group is None:
        return [Call(request.action, "*")]
    if stream is not None and request.action in ("logs:GetLogEvents", "logs:PutLogEvents", "logs:DeleteLogStream"):
        return [Call(request.action, request.arn("logs", f"log-group:{group}:log-stream:{stream}"))]
    return [Call(request.action, request.arn("logs", f"log-group:{group}"))]


def _lambda(request: Request) -> list[Call]:
    match = re.search(r"/functions/([^/]+)", unquote(request.path))
    if not match:
        return [Call(request.action, "*")]
    name = match[1]
    arn = name if name.startswith("arn:") else request.arn("lambda", f"function:{name}")
    action = "lambda:InvokeFunction" if request.action == "lambda:Invoke" else request.action
    return [Call(action, arn)]


def _sns(request: Request) -> list[Call]:
    context: dict[str, str] = {}
    if request.action == "sns:Subscribe":  # the keys SNS gives a Subscribe request's policy conditions
        context = {"sns:Protocol": request.param("Protocol") or "", "sns:Endpoint": request.param("Endpoint") or ""}
    return [Call(request.action, request.param("TopicArn") or request.param("TargetArn") or "*", context)]


def _ses(request: Request) -> list[Call]:
    source = request.param("Source") or request.param("FromEmailAddress") or ""
    address = re.sub(r".*<([^>]+)>.*", r"\1", source)
    return [Call(request.action, request.arn("ses", f"identity/{address}") if address else "*")]


def _cloudformation(request: Request) -> list[Call]:
    name = request.param("StackName") or "*"
    arn = name if name.startswith("arn:") else request.arn("cloudformation", f"stack/{name}/*")
    return [Call(request.action, arn)]


def _events(request: Request) -> list[Call]:
    name = request.param("Name") or request.param("Rule")
    return [Call(request.action, request.arn("events", f"rule/{name}") if name else "*")]


def moto_role(account: str, name: str) -> Any:
    """The role of that name in moto's IAM (None if there is none)."""
    from moto.iam.models import iam_backends

    return next((r for r in iam_backends[account]["aws"].roles.values() if r.name == name), None)


def _iam(request: Request) -> list[Call]:
    """Role operations act on the role's ARN, which holds its path; writes to a role carry the
    iam:PermissionsBoundary key (the boundary asked for, or the role's own), as IAM gives them."""
    name = request.param("RoleName")
    if name is None:
        return [Call(request.action, "*")]
    role = moto_role(request.account, name)
    if request.action == "iam:CreateRole":
        path = request.param("Path") or "/"
        boundary = request.param("PermissionsBoundary")
    else:
        path = role.path if role is not None else "/"
        boundary = role.permissions_boundary_arn if role is not None else None
    context = {"iam:PermissionsBoundary": boundary} if boundary and request.action in _BOUNDED_ROLE_WRITES else {}
    return [Call(request.action, f"arn:aws:iam::{request.account}:role{path}{name}", context)]


# The role writes IAM lets a policy condition on the role's permissions boundary.
_BOUNDED_ROLE_WRITES = {
    "iam:CreateRole",
    "iam:PutRolePolicy",
    "iam:DeleteRolePolicy",
    "iam:AttachRolePolicy",
    "iam:DetachRolePolicy",
    "iam:PutRolePermissionsBoundary",
    "iam:DeleteRolePermissionsBoundary",
}

_DESCRIBERS = {
    "s3": _s3,
    "iam": _iam,
    "states": _states,
    "batch": _batch,
    "logs": _logs,
    "lambda": _lambda,
    "sns": _sns,
    "ses": _ses,
    "cloudformation": _cloudformation,
    "events": _events,
}
