"""Lambda without Docker: each function's handler runs in this process.

moto would start a Docker container per function. Here a function is its code folder and handler,
loaded once, and each invocation gets what Lambda gives it: its function's environment (through
nsclient_common.environment, not by rewriting os.environ under other invocations), its role's
credentials (invocation_credentials.py) and a context whose remaining time counts down from the
template's Timeout. EventBridge's deliveries to a Lambda target are asynchronous invocations,
retried twice on error as Lambda retries them, and queued as Lambda queues them: at most
ASYNC_CONCURRENCY run at once, the others wait their turn.
"""

from __future__ import annotations

import importlib.util
import json
import queue
import sys
import threading
import time
import traceback
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nsclient.local.invocation_credentials import calling_as
from nsclient_common.environment import INVOCATION_ENVIRONMENT
from nsclient_common.payloads import LAMBDA_ASYNC_PAYLOAD_BYTES, LAMBDA_SYNC_PAYLOAD_BYTES, json_size

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path
    from types import ModuleType

    from nsclient.local.principals import Credentials


def _too_large(error_type: str, what: str, limit: int) -> str:
    return json.dumps(
        {"errorType": error_type, "errorMessage": f"{what} payload size exceeded the maximum of {limit} bytes"}
    )


ASYNC_ATTEMPTS = 3  # an asynchronous invocation and Lambda's two retries
# Lambda puts asynchronous events in a queue and invokes the function from it as the account's concurrency
# allows; an event throttled there waits (for up to six hours), it is not lost. Locally the account has this
# many instances for them: fifty uploads at once queue instead of each holding a thread and its memory.
ASYNC_CONCURRENCY = 8
# Python's import system is process-wide: concurrent first invocations (runs started at once) load a module once.
_LOAD_LOCK = threading.RLock()


@dataclass
class LocalFunction:
    """A Lambda function whose handler runs in this process."""

    code_dir: Path
    handler: str  # module.function, as in the template's Handler
    environment: dict[str, str]
    credentials: Credentials | None = None  # of the function's role, as Lambda gives them
    timeout_seconds: int = 300  # the template's Timeout: what get_remaining_time_in_millis counts down from
    _module: ModuleType | None = None

    def load(self) -> Callable[[Any, Any], Any]:
        module_name, function_name = self.handler.rsplit(".", 1)
        with _LOAD_LOCK:
            return self._load(module_name, function_name)

    def _load(self, module_name: str, function_name: str) -> Callable[[Any, Any], Any]:
        if self._module is None:
            path = self.code_dir / f"{module_name}.py"
            spec = importlib.util.spec_from_file_location(f"nsclient_fn_{self.code_dir.name}_{module_name}", path)
            assert spec is not None and spec.loader is not None, f"cannot load {path}"
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module  # pydantic resolves postponed annotations through sys.modules
            spec.loader.exec_module(module)
            self._module = module
        handler: Callable[[Any, Any], Any] = getattr(self._module, function_name)
        return handler


@dataclass
class LambdaContext:
    """What Lambda passes a handler as its context."""

    function_name: str
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = ""
    aws_request_id: str = ""
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = ""
    timeout_seconds: int = 300
    started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.started + self.timeout_seconds - time.monotonic()) * 1000))


class LambdaRuntime:
    """The stack's functions, by name, and their invocations."""

    def __init__(self, async_concurrency: int = ASYNC_CONCURRENCY) -> None:
        self.functions: dict[str, LocalFunction] = {}
        self.async_concurrency = async_concurrency
        self._queued: queue.SimpleQueue[tuple[str, dict[str, Any], str]] = queue.SimpleQueue()
        self._pollers: list[threading.Thread] = []
        self._pollers_lock = threading.Lock()

    def invoke(self, name: str, event: Any, arn: str = "") -> tuple[str, bool]:
        """Run a handler in-process; (payload, errored) as Lambda would report them."""
        function = self.functions.get(name)
        if function is None:
            return json.dumps({"errorType": "ResourceNotFound", "errorMessage": name}), True
        if json_size(event) > LAMBDA_SYNC_PAYLOAD_BYTES:
            return _too_large("RequestTooLargeException", "Request", LAMBDA_SYNC_PAYLOAD_BYTES), True
        context = LambdaContext(
            function_name=name,
            invoked_function_arn=arn,
            aws_request_id=str(uuid.uuid4()),
            timeout_seconds=function.timeout_seconds,
        )
        environment = INVOCATION_ENVIRONMENT.set(dict(function.environment))
        try:
            with calling_as(function.credentials):
                result = function.load()(event, context)
        except Exception as error:  # a handler crash is data for Step Functions, not a server error
            crash = {
                "errorType": type(error).__name__,
                "errorMessage": str(error),
                "stackTrace": traceback.format_exception(error),
            }
            return json.dumps(crash), True
        finally:
            INVOCATION_ENVIRONMENT.reset(environment)
        payload = json.dumps(result)
        if json_size(payload) > LAMBDA_SYNC_PAYLOAD_BYTES:
            return _too_large("Function.ResponseSizeTooLarge", "Response", LAMBDA_SYNC_PAYLOAD_BYTES), True
        return payload, False

    def invoke_async(self, name: str, event: dict[str, Any], arn: str) -> None:
        """Invoke without waiting (as EventBridge does: the caller, S3's PutObject, goes on). An event over
        Lambda's asynchronous limit is refused, never delivered."""
        if json_size(event) > LAMBDA_ASYNC_PAYLOAD_BYTES:
            print(
                f"{name}: not invoked: {_too_large('RequestTooLargeException', 'Request', LAMBDA_ASYNC_PAYLOAD_BYTES)}",
                file=sys.stderr,
            )
            return
        self._queued.put((name, event, arn))
        with self._pollers_lock:
            if len(self._pollers) < self.async_concurrency:
                poller = threading.Thread(target=self._poll_queue, name="lambda-async", daemon=True)
                self._pollers.append(poller)
                poller.start()

    def _poll_queue(self) -> None:
        """One of the account's instances for asynchronous events: invokes them from the queue, in turn."""
        while True:
            self._deliver(*self._queued.get())

    def _deliver(self, name: str, event: dict[str, Any], arn: str) -> None:
        for attempt in range(ASYNC_ATTEMPTS):
            if name not in self.functions:
                return
            payload, errored = self.invoke(name, event, arn)
            if not errored:
                return
            error = json.loads(payload)
            print(
                f"{name} failed (attempt {attempt + 1}): {error['errorType']}: {error['errorMessage']}",
                file=sys.stderr,
            )
            time.sleep(0.5 * (attempt + 1))
