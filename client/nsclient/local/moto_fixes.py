"""Where moto itself needs fixing or lacks something to run the pipeline without Docker.

This is the only module that touches moto's private API, which is why moto is pinned exactly in
pyproject.toml; the end-to-end tests fail loudly if an upgrade moves what it touches. What moto lacks:

- Step Functions: batch:submitJob.sync passes ASL-cased parameters to boto unnormalised; its service
  integrations call other services as a fixed dummy key (here: the state machine role's).
- Lambda: functions would run in Docker; invocations go to the runtime's Lambda (lambda_runtime.py).
- Batch: jobs would run in Docker; Job.run hands each job to the runtime's Batch (batch_runtime.py) as a
  MotoBatchJob. DescribeJobs loses container.exitCode, resourceRequirements and the definition's
  logConfiguration, grows the environment list on every call and says startedAt 0 for a job that never
  started; the awslogs driver ignores the definition's awslogs-group.
- CloudWatch Logs: GetLogEvents re-sorts the whole stream for every page, so reading a long
  log is quadratic.
- EventBridge: rules do not deliver to Lambda targets.
- The server: to route each request it lists moto's package directory (a stat per service),
  holding a lock that serialises every request.
- S3: moto applies a bucket policy to object requests with its own evaluator, which reads every
  conditional Deny (the template's aws:SecureTransport one) as applying; bucket policies are judged
  by strict IAM's evaluator instead, with the request's real condition keys. ListObjectsV2 scans and
  sorts the whole bucket for every page; it is answered from the page's own keys (s3_listing.py).
- Responses: every time in them is parsed from text by dateutil; the common ISO form is read by isotime.
- Payload limits (nsclient_common.payloads): a state's data over 256 KiB fails with States.DataLimitExceeded,
  which (like States.Runtime) moto lets a States.ALL catcher or retrier match; an execution's input, a
  PutEvents entry, an S3 object's user metadata and a SubmitJob request are not limited; SNS counts a
  message in characters.
- IAM: AWS's managed policies are missing from an IAM made before moto's config asked for them, and
  a user's unique id is drawn anew each time the user is made.
- EC2 (imported by Batch): every region's instance-type offerings are loaded at import, 150,000
  dicts (60 MB of the backend's memory) for a backend that is one region.
"""

from __future__ import annotations

import functools
import json
import threading
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nsclient.local.principals import Credentials
    from nsclient.local.runtime import LocalRuntime

# moto's classes are process-wide: the runtime they were fixed for is kept on one of them.
_RUNTIME_ATTRIBUTE = "nsclient_runtime"
_lock = threading.Lock()


def install(runtime: LocalRuntime) -> None:
    """Apply every fix, handing Lambda invocations, Batch jobs and Step Functions' credentials to runtime.
    Once per process: moto's classes, and so the runtime they reach, are the process's."""
    from moto.batch.models import Job

    with _lock:
        installed = getattr(Job, _RUNTIME_ATTRIBUTE, None)
        if installed is runtime:
            return
        if installed is not None:
            raise RuntimeError("moto is already fixed for another local backend in this process")
        _patch_stepfunctions_normalisation()
        _patch_lambda(runtime)
        _patch_batch(runtime)
        _patch_logs()
        _patch_events(runtime)
        _patch_docker()
        _patch_server()
        _patch_state_machine_credentials(runtime)
        _patch_s3_bucket_policy()
        _patch_s3_listing()
        _patch_timestamps()
        _patch_payload_limits()
        _keep_one_regions_offerings(runtime.batch.region)
        setattr(Job, _RUNTIME_ATTRIBUTE, runtime)


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


def _patch_lambda(runtime: LocalRuntime) -> None:
    from moto.awslambda.models import LambdaFunction

    def _invoke_lambda(self: Any, event: str | None = None) -> tuple[str, bool, str]:
        body = json.loads(event) if isinstance(event, str) else (event or {})
        payload, errored = runtime.lambdas.invoke(self.function_name, body, self.function_arn)
        return payload, errored, ""

    LambdaFunction._invoke_lambda = _invoke_lambda  # type: ignore[method-assign]


# --- Batch ----------------------------------------------------------------------------------


class MotoBatchJob:
    """A moto Batch job as the Batch runtime drives it (batch_runtime.BatchJob)."""

    def __init__(self, job: Any):
        self._job = job
        self.job_id: str = job.job_id
        self.name = str(job.job_name)
        self.queue: str = job.job_queue.name

    @property
    def reason(self) -> str | None:
        reason: str | None = self._job.job_stopped_reason
        return reason

    @reason.setter
    def reason(self, value: str | None) -> None:
        self._job.job_stopped_reason = value

    @property
    def container_reason(self) -> str:
        return str(getattr(self._job, "nsclient_container_reason", ""))

    @container_reason.setter
    def container_reason(self, value: str) -> None:
        self._job.nsclient_container_reason = value  # DescribeJobs shows it (_container_details)

    @property
    def stop_requested(self) -> bool:
        return bool(self._job.stop)

    def environment(self) -> dict[str, str]:
        return {e["name"]: e["value"] for e in self._job._get_container_property("environment", [])}

    def command(self) -> list[str]:
        command: list[str] = self._job._add_parameters_to_command(self._job._get_container_property("command", []))
        return command

    def requested_vcpus(self) -> int:
        for requirement in self._job.container_overrides.get("resourceRequirements", []) or []:
            if requirement.get("type") == "VCPU":
                return int(float(requirement["value"]))
        return int(self._job._get_container_property("vcpus", 1) or 1)

    def job_role_arn(self) -> str | None:
        role: str | None = self._job._get_container_property("jobRoleArn", None)
        return role

    def attempt_duration(self) -> int | None:
        duration: int | None = self._job._get_attempt_duration()
        return duration

    def limit_attempt(self, seconds: int) -> None:
        self._job.timeout = {"attemptDurationSeconds": seconds}

    def enter(self, status: str) -> None:
        self._job.status = status

    def start(self) -> None:
        job = self._job
        # Batch's awslogs driver writes where the definition says (moto always uses /aws/batch/job).
        log_options = (job._get_container_property("logConfiguration", None) or {}).get("options") or {}
        if log_options.get("awslogs-group"):
            job._log_group = log_options["awslogs-group"]
        job.status = "STARTING"
        job.job_started_at = datetime.now()
        job.log_stream_name = job._stream_name
        job._start_attempt()
        job._log_backend.ensure_log_group(job._log_group)
        job._log_backend.ensure_log_stream(job._log_group, job._stream_name)
        job.status = "RUNNING"

    def finish(self, exit_code: int | None, *, success: bool) -> None:
        self._job.exit_code = exit_code
        self._job._mark_stopped(success=success)

    def terminate(self, reason: str) -> None:
        self._job.terminate(reason)

    def put_log_events(self, events: list[dict[str, Any]]) -> None:
        self._job._log_backend.put_log_events(self._job._log_group, self._job._stream_name, events)


def _patch_batch(runtime: LocalRuntime) -> None:
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

    def run(self: Any) -> None:
        runtime.batch.run(MotoBatchJob(self))

    Job.run = run  # type: ignore[method-assign]
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


def _patch_events(runtime: LocalRuntime) -> None:
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
            runtime.lambdas.invoke_async(name, event, target["Arn"])
        others = [t for t in self.targets if t not in lambda_targets]
        if others:
            saved, self.targets = self.targets, others
            try:
                original(self, original_event, transform_input)
            finally:
                self.targets = saved

    Rule.send_to_targets = send_to_targets  # type: ignore[method-assign]


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


def _patch_state_machine_credentials(runtime: LocalRuntime) -> None:
    """Step Functions' service integrations call as the state machine's role."""
    import boto3
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
        credentials = runtime.state_machine_credentials
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


# --- EC2 ------------------------------------------------------------------------------------


def _keep_one_regions_offerings(region: str) -> None:
    """Drop the instance-type offerings of every region but the backend's (in place: moto's modules
    share the one dict)."""
    from moto.ec2.models.instance_types import INSTANCE_TYPE_OFFERINGS

    for offerings in INSTANCE_TYPE_OFFERINGS.values():
        for other in [r for r in offerings if r != region]:
            del offerings[other]


# --- S3 -------------------------------------------------------------------------------------


def _patch_s3_bucket_policy() -> None:
    from moto.iam.access_control import PermissionResult
    from moto.s3.models import FakeBucket

    def get_permission(self: Any, action: str, resource: str) -> Any:
        return PermissionResult.NEUTRAL

    FakeBucket.get_permission = get_permission  # type: ignore[method-assign]


def _patch_timestamps() -> None:
    """moto writes each time of a response by parsing its ISO text with dateutil (a listing's page: a
    thousand LastModified); isotime reads the common form to the same value."""
    from moto.core import serialize

    from nsclient.isotime import fast_utc

    original = serialize.parse_to_aware_datetime

    def parse_to_aware_datetime(value: Any) -> Any:
        return fast_utc(value) or original(value)

    serialize.parse_to_aware_datetime = parse_to_aware_datetime


def _patch_s3_listing() -> None:
    from moto.s3.models import S3Backend

    from nsclient.local import s3_listing

    original = S3Backend.list_objects_v2

    @functools.wraps(original)
    def list_objects_v2(
        self: Any,
        bucket: Any,
        prefix: str | None,
        delimiter: str | None,
        continuation_token: str | None,
        start_after: str | None,
        max_keys: int,
    ) -> Any:
        arguments = (bucket, prefix, delimiter, continuation_token, start_after, max_keys)
        return s3_listing.list_objects_v2(self, *arguments) or original(self, *arguments)

    S3Backend.list_objects_v2 = list_objects_v2  # type: ignore[method-assign]


# --- Payload limits -------------------------------------------------------------------------


def _patch_payload_limits() -> None:
    _patch_state_data_limit()
    _patch_execution_input_limit()
    _patch_event_entry_limit()
    _patch_sns_message_limit()
    _patch_s3_metadata_limit()
    _patch_submit_job_limit()


# The errors AWS keeps out of a States.ALL catcher or retrier: the terminal data limit and runtime errors.
NOT_MATCHED_BY_ALL = ("States.DataLimitExceeded", "States.Runtime")


def _patch_state_data_limit() -> None:
    """A state's data is limited as AWS limits it, and States.ALL does not match the terminal error (nor a
    runtime error, such as a path missing from a state's input)."""
    from moto.stepfunctions.parser.asl.component.common.error_name.error_equals_decl import ErrorEqualsDecl
    from moto.stepfunctions.parser.asl.component.state import state
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task_lambda
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service
    from moto.stepfunctions.parser.asl.utils.encoding import to_json_str

    from nsclient_common.payloads import STATE_DATA_BYTES

    def is_within_size_quota(value: Any) -> bool:
        text = value if isinstance(value, str) else to_json_str(value)
        return len(text.encode("utf-8")) <= STATE_DATA_BYTES

    for module in (state, state_task_lambda, state_task_service):
        module.is_within_size_quota = is_within_size_quota  # type: ignore[attr-defined]

    original = ErrorEqualsDecl._eval_body

    def _eval_body(self: Any, env: Any) -> None:
        error = env.stack[-1]
        if getattr(error, "error_name", None) in NOT_MATCHED_BY_ALL and ErrorEqualsDecl._STATE_ALL_ERROR in (
            self.error_names
        ):
            env.stack.pop()
            env.stack.append(False)
            return
        original(self, env)

    ErrorEqualsDecl._eval_body = _eval_body  # type: ignore[method-assign]


def _patch_execution_input_limit() -> None:
    from moto.stepfunctions.exceptions import InvalidExecutionInput
    from moto.stepfunctions.models import StepFunctionBackend
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    from nsclient_common.payloads import STATE_DATA_BYTES, json_size

    for backend in (StepFunctionBackend, StepFunctionsParserBackend):
        original = backend.start_execution

        def start_execution(
            self: Any,
            state_machine_arn: str,
            name: Any = None,
            execution_input: Any = None,
            *args: Any,
            _original: Any = original,
            **kwargs: Any,
        ) -> Any:
            if execution_input is not None and json_size(str(execution_input)) > STATE_DATA_BYTES:
                raise InvalidExecutionInput(
                    f"Invalid State Machine Execution Input: larger than {STATE_DATA_BYTES} bytes"
                )
            return _original(self, state_machine_arn, name, execution_input, *args, **kwargs)

        backend.start_execution = start_execution  # type: ignore[method-assign]


def _patch_event_entry_limit() -> None:
    from moto.events.exceptions import ValidationException
    from moto.events.models import EventsBackend

    from nsclient_common.payloads import EVENT_ENTRY_BYTES, event_entry_size

    original = EventsBackend.put_events

    def put_events(self: Any, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if any(event_entry_size(event) > EVENT_ENTRY_BYTES for event in events):
            raise ValidationException("Total size of the entries in the request is over the limit.")
        result: list[dict[str, Any]] = original(self, events)
        return result

    EventsBackend.put_events = put_events  # type: ignore[method-assign]


def _patch_sns_message_limit() -> None:
    from moto.sns.exceptions import InvalidParameterValue
    from moto.sns.models import SNSBackend

    from nsclient_common.payloads import SNS_MESSAGE_BYTES

    original = SNSBackend.publish

    def publish(self: Any, message: str, *args: Any, **kwargs: Any) -> str:
        if len(message.encode("utf-8")) > SNS_MESSAGE_BYTES:  # moto counts characters, AWS bytes
            raise InvalidParameterValue("Invalid parameter: Message too long")
        published: str = original(self, message, *args, **kwargs)
        return published

    SNSBackend.publish = publish  # type: ignore[method-assign]


def _patch_s3_metadata_limit() -> None:
    from moto.s3.exceptions import S3ClientError
    from moto.s3.responses import S3Response

    from nsclient_common.payloads import S3_USER_METADATA_BYTES

    prefix = "x-amz-meta-"

    def check(response: Any) -> None:
        size = sum(
            len(name[len(prefix) :].encode("utf-8")) + len(str(value).encode("utf-8"))
            for name, value in response.headers.items()
            if name.lower().startswith(prefix)
        )
        if size > S3_USER_METADATA_BYTES:
            raise S3ClientError(
                "MetadataTooLarge",
                f"Your metadata headers exceed the maximum allowed metadata size of {S3_USER_METADATA_BYTES} bytes.",
            )

    original_put, original_post = S3Response._key_response_put, S3Response._key_response_post

    def _key_response_put(self: Any, *args: Any, **kwargs: Any) -> Any:
        check(self)
        return original_put(self, *args, **kwargs)

    def _key_response_post(self: Any, *args: Any, **kwargs: Any) -> Any:
        check(self)
        return original_post(self, *args, **kwargs)

    S3Response._key_response_put = _key_response_put  # type: ignore[method-assign]
    S3Response._key_response_post = _key_response_post  # type: ignore[method-assign]


def _patch_submit_job_limit() -> None:
    from moto.batch.exceptions import ClientException
    from moto.batch.responses import BatchResponse

    from nsclient_common.payloads import BATCH_SUBMIT_JOB_BYTES

    original = BatchResponse.submitjob

    def submitjob(self: Any) -> str:
        body = self.body if isinstance(self.body, bytes) else str(self.body or "").encode("utf-8")
        if len(body) > BATCH_SUBMIT_JOB_BYTES:
            raise ClientException(f"The job request is larger than the maximum of {BATCH_SUBMIT_JOB_BYTES} bytes.")
        submitted: str = original(self)
        return submitted

    BatchResponse.submitjob = submitjob  # type: ignore[method-assign]
