"""Where moto needs help to run the pipeline without Docker.

These touch private moto methods, which is why moto is pinned exactly in pyproject.toml; the
end-to-end tests fail loudly if an upgrade moves them. Each patch is named for what moto lacks:

- Step Functions: batch:submitJob.sync passes ASL-cased parameters to boto unnormalised.
- Lambda: functions run our handlers in-process (moto would start a Docker container).
- Batch: a job runs as a local process (moto would start a Docker container); DescribeJobs
  loses container.exitCode and resourceRequirements, grows the environment list on every call
  and says startedAt 0 for a job that never started. The runtime also plays
  the parts of Batch the tests need: a job too large for the compute environment waits RUNNABLE
  until the queue's jobStateTimeLimitActions cancels it, and JOB_FAULTS inject what AWS does to
  jobs (a reclaimed Spot host, the OOM killer, an attempt timeout) with Batch's own reasons.
- CloudWatch Logs: GetLogEvents re-sorts the whole stream for every page, so reading a long
  log is quadratic.
- EventBridge: rules do not deliver to Lambda targets.
- The server: to route each request it lists moto's package directory (a stat per service),
  holding a lock that serialises every request.
- S3: moto applies a bucket policy to object requests with its own evaluator, which reads every
  conditional Deny (the template's aws:SecureTransport one) as applying; bucket policies are judged
  by strict IAM's evaluator instead, with the request's real condition keys.
- Credentials: moto's Step Functions calls other services as a fixed dummy key, and handlers run
  in one process; each function, the state machine and each job use their own role's credentials,
  as on AWS, so that strict IAM (strict_iam.py) judges each by its own policies.
"""

from __future__ import annotations

import contextvars
import functools
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nsclient.local.entrypoint import ROOT_VAR

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import ModuleType

    from nsclient.local.principals import Credentials

ENTRYPOINT = "/sbin/entrypoint-aws-batch"
SIGKILL_EXIT = 137
# Batch's own texts (see nsclient_common.failure, which classifies them).
ESSENTIAL_CONTAINER_EXITED = "Essential container in task exited"
ATTEMPT_TIMEOUT = "Job attempt duration exceeded timeout"
COMPUTE_ENVIRONMENT_MAX_RESOURCE = "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE"
COMPUTE_ENVIRONMENT_MAX_RESOURCE_WAIT = (
    f"{COMPUTE_ENVIRONMENT_MAX_RESOURCE} - CE(s) associated with the job queue cannot meet the CPU requirement "
    "of the job."
)
JOB_RESOURCE_REQUIREMENT_WAIT = (
    "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT - The job resource requirement (vCPU/memory/GPU) is higher than that "
    "can be met by the CE(s) attached to the job queue."
)
_installed = False
_lock = threading.Lock()
_load_lock = threading.RLock()


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
        with _load_lock:  # concurrent first invocations (runs started at once) load the module once
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
class LocalJobRuntime:
    """How a Batch job runs here: its command as a process, its log into moto's CloudWatch Logs.

    A job asking for more vCPUs than max_vcpus waits RUNNABLE, as Batch reports it
    (MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE); after runnable_timeout_seconds the
    queue's jobStateTimeLimitActions cancels it if its reason is that one (stuck_reason).
    """

    endpoint_url: str
    region: str
    max_vcpus: int
    runnable_timeout_seconds: int = 0
    stuck_reason: str = COMPUTE_ENVIRONMENT_MAX_RESOURCE
    # Job role ARN -> its credentials, as ECS gives them to the job's container.
    role_credentials: dict[str, Credentials] = field(default_factory=dict)


@dataclass
class JobFault:
    """Something AWS does to a job, injected by the local runtime into the jobs it matches.

    A job matches on its name (the run id) and, if given, its queue's name. Use the constructors:
    they carry the reasons Batch reports for each fault.
    """

    name_prefix: str
    queue: str | None = None
    # The container dies this long after it started running, with these reasons and exit code.
    kill_after_seconds: float | None = None
    status_reason: str = ""
    container_reason: str = ""
    exit_code: int | None = SIGKILL_EXIT
    # The job's attemptDurationSeconds, as if its definition or SubmitJob had set it.
    attempt_duration_seconds: int | None = None
    # The job waits RUNNABLE with this statusReason (until a queue action or a TerminateJob ends it).
    blocked_reason: str | None = None

    def matches(self, job: Any) -> bool:
        return str(job.job_name).startswith(self.name_prefix) and self.queue in (None, job.job_queue.name)

    @classmethod
    def host_terminated(cls, name_prefix: str, *, queue: str | None = None, after: float = 0.5) -> JobFault:
        """The instance goes away under the running job (a Spot reclaim): no exit code."""
        reason = "Host EC2 (instance i-0a1b2c3d4e5f67890) terminated."
        return cls(name_prefix, queue, kill_after_seconds=after, status_reason=reason, exit_code=None)

    @classmethod
    def out_of_memory(cls, name_prefix: str, *, after: float = 0.5) -> JobFault:
        """The container goes over its memory and the kernel's OOM killer ends it."""
        return cls(
            name_prefix,
            kill_after_seconds=after,
            status_reason=ESSENTIAL_CONTAINER_EXITED,
            container_reason="OutOfMemoryError: Container killed due to memory usage",
            exit_code=SIGKILL_EXIT,
        )

    @classmethod
    def attempt_timeout(cls, name_prefix: str, seconds: int) -> JobFault:
        """The job's attempt may last `seconds` (Batch then stops it: 'Job attempt duration exceeded timeout')."""
        return cls(name_prefix, attempt_duration_seconds=seconds)

    @classmethod
    def too_large(cls, name_prefix: str) -> JobFault:
        """No instance type in the compute environment can hold the job: it waits RUNNABLE."""
        return cls(name_prefix, blocked_reason=JOB_RESOURCE_REQUIREMENT_WAIT)


FUNCTIONS: dict[str, LocalFunction] = {}
JOB_RUNTIME: LocalJobRuntime | None = None
JOB_FAULTS: list[JobFault] = []
STATE_MACHINE_CREDENTIALS: Credentials | None = None
# The credentials of the function invocation running in this thread.
_INVOCATION_CREDENTIALS: contextvars.ContextVar[Credentials | None] = contextvars.ContextVar(
    "invocation_credentials", default=None
)


@dataclass
class _Context:
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


def install() -> None:
    """Apply every patch once per process."""
    global _installed
    with _lock:
        if _installed:
            return
        _patch_stepfunctions_normalisation()
        _patch_lambda()
        _patch_batch()
        _patch_logs()
        _patch_events()
        _patch_docker()
        _patch_server()
        _patch_credentials()
        _patch_s3_bucket_policy()
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
    context = _Context(
        function_name=name,
        invoked_function_arn=arn,
        aws_request_id=str(uuid.uuid4()),
        timeout_seconds=function.timeout_seconds,
    )
    token = _INVOCATION_CREDENTIALS.set(function.credentials)
    try:
        result = function.load()(event, context)
    except Exception as error:  # a handler crash is data for Step Functions, not a server error
        payload = {
            "errorType": type(error).__name__,
            "errorMessage": str(error),
            "stackTrace": traceback.format_exception(error),
        }
        return json.dumps(payload), True
    finally:
        _INVOCATION_CREDENTIALS.reset(token)
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
    """Batches a job's output lines into CloudWatch Logs, as the awslogs driver would: at most
    1000 lines or 0.2 s late, also when the job goes quiet after a line (a long-running step)."""

    INTERVAL = 0.2

    def __init__(self, job: Any):
        self._job = job
        self._backend = job._log_backend
        self._pending: list[dict[str, Any]] = []
        self._lock = threading.Lock()  # one flush at a time keeps the lines in order
        self._closed = threading.Event()
        self._backend.ensure_log_group(job._log_group)
        self._backend.ensure_log_stream(job._log_group, job._stream_name)
        self._flusher = threading.Thread(target=self._flush_periodically, daemon=True)
        self._flusher.start()

    def add(self, line: str) -> None:
        with self._lock:
            self._pending.append({"timestamp": int(time.time() * 1000), "message": line.rstrip("\n")})
            full = len(self._pending) >= 1000
        if full:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            if self._pending:
                self._backend.put_log_events(self._job._log_group, self._job._stream_name, self._pending)
                self._pending = []

    def close(self) -> None:
        self._closed.set()
        self._flusher.join()
        self.flush()

    def _flush_periodically(self) -> None:
        while not self._closed.wait(self.INTERVAL):
            self.flush()


def _fault_for(job: Any) -> JobFault | None:
    return next((fault for fault in list(JOB_FAULTS) if fault.matches(job)), None)


def _blocked_reason(job: Any, runtime: LocalJobRuntime, fault: JobFault | None) -> str | None:
    """Why Batch would keep this job RUNNABLE, in its words; None if it can start."""
    if fault is not None and fault.blocked_reason:
        return fault.blocked_reason
    if _requested_vcpus(job) > runtime.max_vcpus:
        return COMPUTE_ENVIRONMENT_MAX_RESOURCE_WAIT
    return None


def _wait_runnable(job: Any, runtime: LocalJobRuntime, blocked: str) -> None:
    """RUNNABLE until a TerminateJob, or the queue's time limit action if it covers the reason."""
    job.job_stopped_reason = blocked  # Batch shows why a job waits in its statusReason
    code = blocked.split(" - ", 1)[0]
    waited_since = time.monotonic()
    while not job.stop:
        limit = runtime.runnable_timeout_seconds
        if limit and code == runtime.stuck_reason and time.monotonic() - waited_since > limit:
            job.job_stopped_reason = f"Canceled by JobStateTimeLimit action due to reason: {code}"
            break
        time.sleep(0.1)
    job._mark_stopped(success=False)


def _run_job(self: Any) -> None:
    """Job.run replacement: SUBMITTED -> ... -> RUNNING as a local process -> SUCCEEDED/FAILED."""
    runtime = JOB_RUNTIME
    try:
        assert runtime is not None, "the local job runtime is not configured"
        for status in ("PENDING", "RUNNABLE"):
            self.status = status
        fault = _fault_for(self)
        blocked = _blocked_reason(self, runtime, fault)
        if blocked:
            _wait_runnable(self, runtime, blocked)
            return
        if self.stop:  # terminated while it waited
            self._mark_stopped(success=False)
            return
        if fault is not None and fault.attempt_duration_seconds:
            self.timeout = {"attemptDurationSeconds": fault.attempt_duration_seconds}
        # Batch's awslogs driver writes where the definition says (moto always uses /aws/batch/job).
        log_options = (self._get_container_property("logConfiguration", None) or {}).get("options") or {}
        if log_options.get("awslogs-group"):
            self._log_group = log_options["awslogs-group"]
        self.status = "STARTING"
        self.job_started_at = datetime.now()
        self.log_stream_name = self._stream_name
        self._start_attempt()
        self.status = "RUNNING"
        self.exit_code = _run_process(self, runtime, fault)
        if self.job_stopped_reason is None:
            self.job_stopped_reason = ESSENTIAL_CONTAINER_EXITED
        self._mark_stopped(success=self.exit_code == 0 and not self.stop)
    except Exception:  # the job fails, as a container that cannot start does; the reason says why
        self.job_stopped_reason = "CannotStartContainerError: " + traceback.format_exc(limit=3)[-500:]
        self._mark_stopped(success=False)


def _run_process(job: Any, runtime: LocalJobRuntime, fault: JobFault | None = None) -> int | None:
    """The job's command as a process group; its exit code as Batch reports it (None: the host went away)."""
    command = _local_command(job._add_parameters_to_command(job._get_container_property("command", [])))
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    environment = {
        **inherited,
        **_job_environment(job),
        "AWS_ENDPOINT_URL": runtime.endpoint_url,
        **_job_credentials(job, runtime),
        "AWS_BATCH_JOB_ID": job.job_id,
        "PYTHONUNBUFFERED": "1",
    }
    # The container's / (removed after the job, however it ended) and its clock's zone.
    scratch = Path(tempfile.mkdtemp(prefix="nsclient-job-"))
    environment |= {ROOT_VAR: str(scratch), "TZ": "UTC"}
    try:
        return _watch_process(job, command, environment, fault)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _watch_process(job: Any, command: list[str], environment: dict[str, str], fault: JobFault | None) -> int | None:
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
    started = time.monotonic()
    duration = job._get_attempt_duration()
    deadline = started + duration if duration else None
    injected: list[JobFault] = []

    kill_at = started + fault.kill_after_seconds if fault is not None and fault.kill_after_seconds is not None else None

    def watch() -> None:
        while process.poll() is None:
            now = time.monotonic()
            if job.stop:
                pass  # TerminateJob: its reason is set already
            elif deadline and now > deadline:
                job.job_stopped_reason = ATTEMPT_TIMEOUT
            elif fault is not None and kill_at is not None and now >= kill_at:
                job.job_stopped_reason = fault.status_reason or None
                job.nsclient_container_reason = fault.container_reason
                injected.append(fault)
            else:
                time.sleep(0.1)
                continue
            os.killpg(process.pid, signal.SIGKILL)
            return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    assert process.stdout is not None
    for line in process.stdout:
        shipper.add(line)
    returncode = process.wait()
    watcher.join()
    shipper.close()
    if injected:
        return injected[0].exit_code
    return SIGKILL_EXIT if returncode < 0 else returncode


def _job_credentials(job: Any, runtime: LocalJobRuntime) -> dict[str, str]:
    """The job role's credentials, as the container gets them; none when the definition names no
    role (on AWS the job would then have no AWS access of its own)."""
    role = job._get_container_property("jobRoleArn", None)
    credentials = runtime.role_credentials.get(role) if role else None
    return credentials.environment() if credentials else {}


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
        if getattr(self, "nsclient_container_reason", ""):
            details["reason"] = self.nsclient_container_reason  # e.g. the OOM killer's
        log_configuration = (self.job_definition.container_properties or {}).get("logConfiguration")
        if log_configuration:
            details["logConfiguration"] = log_configuration  # moto leaves out where the job logs
        # moto leaves out what the job was given: the definition's requirements, as overridden at submission
        requirements = {
            r["type"]: r
            for source in (
                (self.job_definition.container_properties or {}).get("resourceRequirements"),
                self.container_overrides.get("resourceRequirements"),
            )
            for r in source or []
        }
        if requirements:
            details["resourceRequirements"] = list(requirements.values())
        return details

    original_short = Job.describe_short
    never = datetime(1970, 1, 1)

    def describe_short(self: Any) -> dict[str, Any]:
        described: dict[str, Any] = original_short(self)
        if self.job_started_at == never:
            described.pop("startedAt", None)  # moto says 0 for a job that never started; Batch leaves it out
        return described

    Job.describe_short = describe_short  # type: ignore[method-assign]
    Job.run = _run_job  # type: ignore[method-assign]
    Job._get_container_property = _get_container_property  # type: ignore[method-assign]
    Job._container_details = _container_details  # type: ignore[method-assign]


# --- CloudWatch Logs ------------------------------------------------------------------------


def _patch_logs() -> None:
    from moto.logs.exceptions import InvalidParameterException
    from moto.logs.models import LogStream

    def get_log_events(
        self: Any, start_time: Any, end_time: Any, limit: int | None, next_token: str | None, start_from_head: Any
    ) -> tuple[list[dict[str, Any]], str | None, str | None]:
        """moto's paging (same tokens), over the stream's events sorted once per change, not per page."""
        limit = 10000 if limit is None else limit
        cached = getattr(self, "nsclient_sorted_events", None)
        if cached is None or cached[0] != len(self.events):
            cached = (len(self.events), sorted(self.events, key=lambda event: event.timestamp))
            self.nsclient_sorted_events = cached
        events = cached[1]
        if start_time or end_time:
            events = [
                e
                for e in events
                if not (start_time and e.timestamp < start_time) and not (end_time and e.timestamp > end_time)
            ]
        direction, index = None, 0
        if next_token is not None:
            try:
                direction, index = next_token[0], int(next_token[2:])
            except ValueError:
                raise InvalidParameterException("The specified nextToken is invalid.") from None
        final_index, limit_index = len(events) - 1, limit - 1
        if direction is None and start_from_head:
            start_index = 0
            end_index = limit_index
        elif direction is None:
            end_index = final_index
            start_index = end_index - limit_index
        elif direction == "f":
            start_index = index + 1
            end_index = start_index + limit_index
        elif direction == "b":
            end_index = index - 1
            start_index = end_index - limit_index
        else:
            raise InvalidParameterException("The specified nextToken is invalid.")
        if start_index < 0:
            start_index = 0
        elif start_index > final_index:
            return [], f"b/{final_index:056d}", f"f/{final_index:056d}"
        if end_index > final_index:
            end_index = final_index
        elif end_index < 0:
            return [], f"b/{0:056d}", f"f/{0:056d}"
        page = [event.to_response_dict() for event in events[start_index : end_index + 1]]
        return page, f"b/{start_index:056d}", f"f/{end_index:056d}"

    LogStream.get_log_events = get_log_events  # type: ignore[method-assign]


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


# --- Server ---------------------------------------------------------------------------------


def _patch_server() -> None:
    from moto import backends

    modules = tuple(backends.list_of_moto_modules())  # the installed package does not change

    def list_of_moto_modules() -> tuple[str, ...]:
        return modules

    backends.list_of_moto_modules = list_of_moto_modules


# --- Credentials ----------------------------------------------------------------------------


class _ClientsByInvocation:
    """nsclient_common.aws._client, keyed also on the invoking function's credentials (a Lambda
    container holds one function's clients; this process holds every function's)."""

    def __init__(self, shared: Any, config: Any):
        self._shared, self._config = shared, config
        self._as = functools.cache(self._make)

    def _make(self, service: str, endpoint_url: str | None, region: str | None, credentials: Credentials) -> Any:
        import boto3

        session: Any = boto3.session.Session(**credentials.client_kwargs())
        return session.client(
            service, endpoint_url=endpoint_url, region_name=region or "us-east-1", config=self._config
        )

    def __call__(self, service: str, endpoint_url: str | None, region: str | None) -> Any:
        credentials = _INVOCATION_CREDENTIALS.get()
        if credentials is None:
            return self._shared(service, endpoint_url, region)
        return self._as(service, endpoint_url, region, credentials)

    def cache_clear(self) -> None:
        self._shared.cache_clear()
        self._as.cache_clear()


def _patch_credentials() -> None:
    """Handlers' clients (nsclient_common.aws) use the invoking function's role; Step Functions'
    service integrations use the state machine's role."""
    import boto3

    from nsclient_common import aws

    aws._client = _ClientsByInvocation(aws._client, aws._CONFIG)  # type: ignore[assignment]

    from moto.stepfunctions.parser.asl.utils import boto_client as sfn_boto_client

    original = sfn_boto_client.boto_client_for

    @functools.cache
    def as_state_machine(region: str, service: str, credentials: Credentials) -> Any:
        # moto's client settings (endpoint, no retries, timeouts), the state machine role's keys; made once,
        # not at every task call (a .sync task polls every half second).
        made = original(region, service)
        factory: Any = boto3.client
        return factory(
            service_name=service,
            region_name=region,
            endpoint_url=made.meta.endpoint_url,
            config=made.meta.config,
            **credentials.client_kwargs(),
        )

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        credentials = STATE_MACHINE_CREDENTIALS
        if credentials is None:
            return original(region, service, state_credentials)
        return as_state_machine(region, service, credentials)

    import importlib
    import pkgutil

    from moto.stepfunctions.parser.asl.component.state import exec as state_exec

    # Every module that imported boto_client_for by name gets this one.
    for found in pkgutil.walk_packages(state_exec.__path__, state_exec.__name__ + "."):
        module = importlib.import_module(found.name)
        if hasattr(module, "boto_client_for"):
            module.boto_client_for = boto_client_for  # type: ignore[attr-defined]


# --- IAM ------------------------------------------------------------------------------------


def load_aws_managed_policies(account: str) -> None:
    """AWS's managed policies in the account's IAM (SAM attaches some to the roles it makes). moto loads
    them only into an IAM it creates after its config asks for them; one made earlier in this process
    (an in-process mock) lacks them."""
    from moto.iam.models import iam_backends

    backend = iam_backends[account]["aws"]
    if not backend.aws_managed_policies:
        backend.aws_managed_policies = backend._init_aws_policies()
        backend.managed_policies.update({p.arn: p for p in backend.aws_managed_policies})


def fix_user_id(account: str, name: str, user_id: str) -> None:
    """Give an IAM user a unique id of our choosing (moto draws a new one each time a user is made): the
    local person's folders are named by it, so it must outlive a restart of the local backend."""
    from moto.iam.models import iam_backends

    iam_backends[account]["aws"].users[name].id = user_id


# --- S3 -------------------------------------------------------------------------------------


def _patch_s3_bucket_policy() -> None:
    from moto.iam.access_control import PermissionResult
    from moto.s3.models import FakeBucket

    def get_permission(self: Any, action: str, resource: str) -> Any:
        return PermissionResult.NEUTRAL

    FakeBucket.get_permission = get_permission  # type: ignore[method-assign]
