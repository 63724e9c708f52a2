"""Where moto needs help to run the pipeline without Docker.

These touch private moto methods, which is why moto is pinned exactly in pyproject.toml; the
end-to-end tests fail loudly if an upgrade moves them. Each patch is named for what moto lacks:

- Step Functions: batch:submitJob.sync passes ASL-cased parameters to boto unnormalised.
- Lambda: functions run our handlers in-process (moto would start a Docker container).
- Batch: a job runs as a local process (moto would start a Docker container); DescribeJobs
  loses container.exitCode and grows the environment list on every call.
- EventBridge: rules do not deliver to Lambda targets.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path
    from types import ModuleType

ENTRYPOINT = "/sbin/entrypoint-aws-batch"
SIGKILL_EXIT = 137
_installed = False
_lock = threading.Lock()


@dataclass
class LocalFunction:
    """A Lambda function whose handler runs in this process."""

    code_dir: Path
    handler: str  # module.function, as in the template's Handler
    environment: dict[str, str]
    _module: ModuleType | None = None

    def load(self) -> Callable[[Any, Any], Any]:
        module_name, function_name = self.handler.rsplit(".", 1)
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
class LocalJobRuntime:
    """How a Batch job runs here: its command as a process, its log into moto's CloudWatch Logs."""

    endpoint_url: str
    region: str
    max_vcpus: int
    runnable_timeout_seconds: int = 0
    stuck_reason: str = "stuck RUNNABLE"


FUNCTIONS: dict[str, LocalFunction] = {}
JOB_RUNTIME: LocalJobRuntime | None = None


@dataclass
class _Context:
    function_name: str
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = ""
    aws_request_id: str = ""
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = ""

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


def install() -> None:
    """Apply every patch once per process."""
    global _installed
    with _lock:
        if _installed:
            return
        _patch_stepfunctions_normalisation()
        _patch_lambda()
        _patch_batch()
        _patch_events()
        _patch_docker()
        _installed = True


# --- Step Functions -------------------------------------------------------------------------


def _patch_stepfunctions_normalisation() -> None:
    from botocore.loaders import create_loader
    from botocore.model import ServiceModel
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service as sts

    loader = create_loader()
    models: dict[str, ServiceModel] = {}

    def operation(self: Any, boto_service_name: str | None, service_action_name: str | None) -> Any:
        service = self._get_boto_service_name(boto_service_name)
        action = self._get_boto_service_action(service_action_name)
        if service not in models:
            models[service] = ServiceModel(loader.load_service_model(service, "service-2"), service)
        model = models[service]
        wanted = action.replace("_", "").lower()
        name = next(n for n in model.operation_names if n.lower() == wanted)
        return model.operation_model(name)

    def normalise_parameters(
        self: Any, parameters: dict[str, Any], boto_service_name: Any = None, service_action_name: Any = None
    ) -> None:
        shape = operation(self, boto_service_name, service_action_name).input_shape
        if shape is not None:
            self._to_boto_request(parameters, shape)

    def normalise_response(
        self: Any, response: Any, boto_service_name: Any = None, service_action_name: Any = None
    ) -> None:
        shape = operation(self, boto_service_name, service_action_name).output_shape
        if shape is not None:
            self._from_boto_response(response, shape)

    # Only service integrations with a botocore model of their own (batch here); lambda and
    # aws-sdk integrations already do their own casing.
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_batch import (
        StateTaskServiceBatch,
    )

    StateTaskServiceBatch._normalise_parameters = normalise_parameters  # type: ignore[method-assign]
    StateTaskServiceBatch._normalise_response = normalise_response  # type: ignore[method-assign]
    del sts


# --- Lambda ---------------------------------------------------------------------------------


def invoke_local_function(name: str, event: Any, arn: str = "") -> tuple[str, bool]:
    """Run a handler in-process; (payload, errored) as Lambda would report them."""
    function = FUNCTIONS[name]
    os.environ.update(function.environment)
    context = _Context(function_name=name, invoked_function_arn=arn, aws_request_id=str(uuid.uuid4()))
    try:
        result = function.load()(event, context)
    except Exception as error:  # a handler crash is data for Step Functions, not a server error
        payload = {
            "errorType": type(error).__name__,
            "errorMessage": str(error),
            "stackTrace": traceback.format_exception(error),
        }
        return json.dumps(payload), True
    return json.dumps(result), False


def _patch_lambda() -> None:
    from moto.awslambda.models import LambdaFunction

    def _invoke_lambda(self: Any, event: str | None = None) -> tuple[str, bool, str]:
        if self.function_name not in FUNCTIONS:
            return json.dumps({"errorType": "ResourceNotFound", "errorMessage": self.function_name}), True, ""
        body = json.loads(event) if isinstance(event, str) else (event or {})
        payload, errored = invoke_local_function(self.function_name, body, self.function_arn)
        return payload, errored, ""

    LambdaFunction._invoke_lambda = _invoke_lambda  # type: ignore[method-assign]


# --- Batch ----------------------------------------------------------------------------------


def _job_environment(job: Any) -> dict[str, str]:
    variables = {e["name"]: e["value"] for e in job._get_container_property("environment", [])}
    return variables


def _requested_vcpus(job: Any) -> int:
    for requirement in job.container_overrides.get("resourceRequirements", []) or []:
        if requirement.get("type") == "VCPU":
            return int(float(requirement["value"]))
    return int(job._get_container_property("vcpus", 1) or 1)


def _local_command(command: list[str]) -> list[str]:
    """The image's entrypoint becomes ours; the rest of the command is run as the job gave it."""
    if command and command[0] == ENTRYPOINT:
        return [sys.executable, "-m", "nsclient.local.entrypoint", *command[1:]]
    return command


class _LogShipper:
    """Batches a job's output lines into CloudWatch Logs, as the awslogs driver would."""

    def __init__(self, job: Any):
        self._job = job
        self._backend = job._log_backend
        self._pending: list[dict[str, Any]] = []
        self._flushed_at = time.monotonic()
        self._backend.ensure_log_group(job._log_group)
        self._backend.ensure_log_stream(job._log_group, job._stream_name)

    def add(self, line: str) -> None:
        self._pending.append({"timestamp": int(time.time() * 1000), "message": line.rstrip("\n")})
        if len(self._pending) >= 1000 or time.monotonic() - self._flushed_at > 0.2:
            self.flush()

    def flush(self) -> None:
        if self._pending:
            self._backend.put_log_events(self._job._log_group, self._job._stream_name, self._pending)
            self._pending = []
        self._flushed_at = time.monotonic()


def _run_job(self: Any) -> None:
    """Job.run replacement: SUBMITTED -> ... -> RUNNING as a local process -> SUCCEEDED/FAILED."""
    runtime = JOB_RUNTIME
    try:
        assert runtime is not None, "the local job runtime is not configured"
        for status in ("PENDING", "RUNNABLE"):
            self.status = status
        # A job asking for more than the compute environment has never starts, as in Batch.
        waited_since = time.monotonic()
        while _requested_vcpus(self) > runtime.max_vcpus:
            if self.stop:
                self._mark_stopped(success=False)
                return
            if runtime.runnable_timeout_seconds and time.monotonic() - waited_since > runtime.runnable_timeout_seconds:
                self.job_stopped_reason = runtime.stuck_reason
                self._mark_stopped(success=False)
                return
            time.sleep(0.1)
        self.status = "STARTING"
        self.job_started_at = datetime.now()
        self.log_stream_name = self._stream_name
        self._start_attempt()
        self.status = "RUNNING"
        self.exit_code = _run_process(self, runtime)
        self._mark_stopped(success=self.exit_code == 0 and not self.stop)
    except Exception:  # the job fails, as a container that cannot start does; the reason says why
        self.job_stopped_reason = "CannotStartContainerError: " + traceback.format_exc(limit=3)[-500:]
        self._mark_stopped(success=False)


def _run_process(job: Any, runtime: LocalJobRuntime) -> int:
    command = _local_command(job._add_parameters_to_command(job._get_container_property("command", [])))
    environment = {
        **os.environ,
        **_job_environment(job),
        "AWS_ENDPOINT_URL": runtime.endpoint_url,
        "AWS_DEFAULT_REGION": runtime.region,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_BATCH_JOB_ID": job.job_id,
        "PYTHONUNBUFFERED": "1",
    }
    shipper = _LogShipper(job)
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=environment,
        start_new_session=True,  # so a terminate kills the whole process group
        text=True,
        errors="replace",
    )
    duration = job._get_attempt_duration()
    deadline = time.monotonic() + duration if duration else None

    def watch() -> None:
        while process.poll() is None:
            if job.stop or (deadline and time.monotonic() > deadline):
                if not job.stop:
                    job.job_stopped_reason = "Job attempt duration exceeded timeout"
                os.killpg(process.pid, signal.SIGKILL)
                return
            time.sleep(0.1)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    assert process.stdout is not None
    for line in process.stdout:
        shipper.add(line)
    returncode = process.wait()
    shipper.flush()
    return SIGKILL_EXIT if returncode < 0 else returncode


def _patch_batch() -> None:
    from moto.batch.models import Job

    original_get = Job._get_container_property

    def _get_container_property(self: Any, p: str, default: Any) -> Any:
        if p != "environment":
            return original_get(self, p, default)
        # moto appends to the override list itself, so it grows on every DescribeJobs.
        overrides = {e["name"]: e["value"] for e in self.container_overrides.get("environment", []) or []}
        definition = (self.job_definition.container_properties or {}).get("environment", []) or []
        merged = {**{e["name"]: e["value"] for e in definition}, **overrides, "AWS_BATCH_JOB_ID": self.job_id}
        return [{"name": k, "value": v} for k, v in merged.items()]

    original_details = Job._container_details

    def _container_details(self: Any) -> dict[str, Any]:
        details: dict[str, Any] = original_details(self)
        if self.exit_code is not None:
            details["exitCode"] = self.exit_code  # moto drops it from DescribeJobs
        if self.job_stopped_reason:
            details["reason"] = self.job_stopped_reason
        return details

    Job.run = _run_job  # type: ignore[method-assign]
    Job._get_container_property = _get_container_property  # type: ignore[method-assign]
    Job._container_details = _container_details  # type: ignore[method-assign]


# --- EventBridge ----------------------------------------------------------------------------


def _patch_events() -> None:
    from moto.core.utils import iso_8601_datetime_without_milliseconds, utcfromtimestamp
    from moto.events.models import Rule
    from moto.utilities.arns import parse_arn

    original = Rule.send_to_targets

    def send_to_targets(self: Any, original_event: Any, transform_input: bool = True) -> None:
        if not self.event_pattern.matches_event(original_event):
            return
        lambda_targets = [t for t in self.targets if parse_arn(t["Arn"]).service == "lambda"]
        for target in lambda_targets:
            event = json.loads(json.dumps(original_event, default=str))
            if isinstance(event.get("time"), int | float):
                event["time"] = iso_8601_datetime_without_milliseconds(utcfromtimestamp(event["time"]))
            name = parse_arn(target["Arn"]).resource_id.split(":")[-1]
            # EventBridge invokes asynchronously: the caller (S3's PutObject) does not wait.
            threading.Thread(target=_deliver, args=(name, event, target["Arn"]), daemon=True).start()
        others = [t for t in self.targets if t not in lambda_targets]
        if others:
            saved, self.targets = self.targets, others
            try:
                original(self, original_event, transform_input)
            finally:
                self.targets = saved

    Rule.send_to_targets = send_to_targets  # type: ignore[method-assign]


def _deliver(name: str, event: dict[str, Any], arn: str) -> None:
    # Lambda's async invocation retries a failed event twice.
    for attempt in range(3):
        if name not in FUNCTIONS:
            return
        payload, errored = invoke_local_function(name, event, arn)
        if not errored:
            return
        error = json.loads(payload)
        print(f"{name} failed (attempt {attempt + 1}): {error['errorType']}: {error['errorMessage']}", file=sys.stderr)
        time.sleep(0.5 * (attempt + 1))


# --- Docker ---------------------------------------------------------------------------------


def _patch_docker() -> None:
    from moto.utilities.docker_utilities import DockerModel

    def docker_client(self: Any) -> Any:
        raise AttributeError("no Docker engine: the local backend runs functions and jobs in-process")

    DockerModel.docker_client = property(docker_client)  # type: ignore[assignment,method-assign]
