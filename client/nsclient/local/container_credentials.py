"""The container credentials endpoint: how a Batch job gets its job role's keys, as ECS gives them.

On ECS the agent serves each task's role credentials at http://169.254.170.2$AWS_CONTAINER_CREDENTIALS_RELATIVE_URI,
a path with a random id that only that task's environment holds; every AWS SDK and the AWS CLI read it
on their own. That address is not on this machine (binding it needs root and a change to the host's
network), so the local runtime serves the same answers on the loopback and gives the job the full URI
instead (AWS_CONTAINER_CREDENTIALS_FULL_URI, which the SDKs accept for loopback hosts): the same
provider in the job's SDK, the same JSON, one secret path a job, valid only while the job runs. No job
gets keys in its environment, so build code reaches AWS only as its own job's role.

As ECS's agent holds a task's credentials before its containers start and answers every request from
them (refreshing them well before they expire), a job's are issued as it starts and each request is
answered from them: an AssumeRole per request was slow enough on a loaded machine (fifty jobs starting)
for the SDK's two-second timeout to give up on its three tries, failing the build.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    from nsclient.local.principals import Credentials

FULL_URI_VAR = "AWS_CONTAINER_CREDENTIALS_FULL_URI"
PATH_PREFIX = "/v2/credentials/"
# STS's default session length for an assumed role; SDKs refresh before it ends.
SESSION_LIFETIME = timedelta(hours=1)
# Credentials this close to their end are issued anew before being served (SDKs refresh 15 minutes before).
REFRESH_BEFORE = timedelta(minutes=30)


class RoleNotAssumable(Exception):
    """ECS could not assume the job's role (yet): the job's SDK gets an error instead of keys."""


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        try:
            served = self.server.endpoint.credentials_for(self.path)
        except RoleNotAssumable as error:
            self._reply(500, {"code": "AccessDenied", "message": str(error)})
            return
        if served is None:
            # The agent's answer for a path it never gave out (or gave to a job that has ended).
            self._reply(400, {"code": "InvalidIdInRequest", "message": "CredentialsV2Request: Credentials not found"})
            return
        self._reply(
            200,
            {
                "RoleArn": served.role_arn,
                "AccessKeyId": served.credentials.access_key_id,
                "SecretAccessKey": served.credentials.secret_access_key,
                "Token": served.credentials.session_token,
                "Expiration": served.expiration.strftime("%Y-%m-%dT%H:%M:%SZ"),
            },
        )

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (http.server's name)
        pass  # the job's own log says what it did with the answer


@dataclass(frozen=True)
class IssuedCredentials:
    role_arn: str
    credentials: Credentials
    expiration: datetime


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, endpoint: ContainerCredentialsEndpoint):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.endpoint = endpoint


class ContainerCredentialsEndpoint:
    """Serves each running job its role's credentials at a path of its own, until the job ends."""

    def __init__(self, issue: Callable[[str, str], Credentials]):
        # (role ARN, role session name) -> the role's credentials, as ECS's AssumeRole gets them.
        self.issue = issue
        self._jobs: dict[str, tuple[str, str]] = {}  # path -> (job id, role ARN)
        self._issued: dict[str, IssuedCredentials] = {}  # path -> what its requests are answered with
        self._lock = threading.Lock()
        self._server: _Server | None = None

    def _started(self) -> _Server:
        with self._lock:
            if self._server is None:
                self._server = _Server(self)
                threading.Thread(target=self._server.serve_forever, name="container-credentials", daemon=True).start()
            return self._server

    def open_for(self, job_id: str, role_arn: str) -> dict[str, str]:
        """The environment that points this job's SDKs at its role's credentials, issued now if the role can
        be assumed yet (else at the job's first request)."""
        server = self._started()
        path = f"{PATH_PREFIX}{secrets.token_urlsafe(24)}"
        with self._lock:
            self._jobs[path] = (job_id, role_arn)
        with contextlib.suppress(RoleNotAssumable):  # the job's SDK is told so when it asks
            self.credentials_for(path)
        host, port = server.server_address[:2]
        return {FULL_URI_VAR: f"http://{host!s}:{port}{path}"}

    def close_for(self, job_id: str) -> None:
        """The job has ended: its path answers nothing any more."""
        with self._lock:
            for path in [p for p, (job, _) in self._jobs.items() if job == job_id]:
                del self._jobs[path]
                self._issued.pop(path, None)

    def credentials_for(self, path: str) -> IssuedCredentials | None:
        """What a request for this path is answered with (None: no running job's path); RoleNotAssumable
        while the job's role cannot be assumed yet."""
        with self._lock:
            job, issued = self._jobs.get(path), self._issued.get(path)
        if job is None:
            return None
        now = datetime.now(UTC)
        if issued is None or issued.expiration - now < REFRESH_BEFORE:
            job_id, role_arn = job
            issued = IssuedCredentials(role_arn, self.issue(role_arn, job_id), now + SESSION_LIFETIME)
            with self._lock:
                if path in self._jobs:  # not ended meanwhile
                    self._issued[path] = issued
        return issued

    def close(self) -> None:
        with self._lock:
            server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
