"""Create the template's resources in a moto server: the local backend's 'deploy'."""

from __future__ import annotations

import io
import json
import os
import re
import threading
import zipfile
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import yaml

from nsclient.local import moto_fixes, nextstrain_guide, sam
from nsclient.local.container_credentials import ContainerCredentialsEndpoint, RoleNotAssumable
from nsclient.local.lambda_runtime import LocalFunction
from nsclient.local.principals import (
    ADMIN_USER,
    ADMINISTRATOR_ACCESS,
    LOCAL_USER,
    USERS_GROUP,
    Credentials,
    StackPrincipals,
)
from nsclient.local.template import Resolver, load_template, resources_of_type
from nsclient_common.settings import Limits, Settings

if TYPE_CHECKING:
    from nsclient.local.runtime import LocalRuntime

ACCOUNT = "123456789012"
REGION = "us-east-1"
STACK_NAME = "nsclient-local"
STACK_UUID = "00000000-0000-4000-8000-000000000000"  # the last part of a stack id
LOCAL_BUCKET = "nsclient-local-builds"
LOCAL_MAX_VCPUS = 64
# The local person's IAM unique id (aws:userid), the same at every start: their runs are in its folders.
LOCAL_USER_ID = "AIDALOCALNSCLIENTUSER"
# IAM's eventual consistency, played small: ECS cannot assume a role this young (on AWS, seconds, unstated).
# PrepareRun waits JOB_ROLE_SETTLE_SECONDS (10 as deployed) before a new role's first job; here a little
# more than the emulated delay, so a first run that did not wait would fail as it could on AWS.
ROLE_PROPAGATION_SECONDS = 2.5
LOCAL_JOB_ROLE_SETTLE_SECONDS = 3.0


@dataclass
class StackInfo:
    """What a client needs to reach the local stack: the same outputs as the AWS stack's."""

    endpoint_url: str
    region: str
    bucket: str
    state_machine_arn: str
    topic_arn: str
    job_queue: str
    job_definition: str
    outbox: str
    # A person's keys: an IAM user in the stack's users group (the client uses them).
    credentials: dict[str, str | None] | None = None
    # What a run may ask for (nsclient_common.settings.Limits), as the functions read it from their environment.
    limits: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def backend_source() -> Path:
    """template.yaml, statemachine/ and functions/, shipped with the package as nsclient/backend-source (in
    the repository, links to the one copy at its root), so an installed wheel runs the stack it was built with."""
    return Path(__file__).resolve().parents[1] / "backend-source"


def _camel(value: Any) -> Any:
    """CloudFormation's PascalCase properties as the API's camelCase parameters."""
    if isinstance(value, dict):
        return {k[:1].lower() + k[1:]: _camel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_camel(v) for v in value]
    return value


def _client(service: str, endpoint_url: str, credentials: Credentials | None = None) -> Any:
    """A client for set-up (before IAM is checked) or, with credentials, as that principal."""
    factory: Any = boto3.client
    keys: dict[str, Any] = (
        credentials.client_kwargs() if credentials else {"aws_access_key_id": "local", "aws_secret_access_key": "local"}
    )
    return factory(service, endpoint_url=endpoint_url, region_name=REGION, **keys)


def _dummy_code() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "# runs in-process in the local backend\n")
    return buffer.getvalue()


class LocalStack:
    def __init__(
        self,
        endpoint_url: str,
        state_dir: Path,
        runtime: LocalRuntime,
        root: Path | None = None,
        parameters: dict[str, str] | None = None,
    ):
        self.endpoint_url = endpoint_url
        self.runtime = runtime  # what runs the stack's functions and jobs; filled in as they are created
        self.state_dir = state_dir
        self.root = root or backend_source()
        self.template = load_template(self.root / "template.yaml")
        # Locally every notice goes to the outbox folder and nobody is mailed: any notify address will do.
        values = {"CreateBatchEnvironment": "false", "NotifyAllowed": "*", **(parameters or {})}
        self.expanded = sam.expand(self.template, values, REGION)
        self.resolver = Resolver(
            self.expanded,
            values,
            pseudo={
                "AWS::Region": REGION,
                "AWS::AccountId": ACCOUNT,
                "AWS::Partition": "aws",
                "AWS::StackName": STACK_NAME,
                "AWS::StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{STACK_NAME}/{STACK_UUID}",
                "AWS::URLSuffix": "amazonaws.com",
            },
        )
        self.functions = resources_of_type(self.template, "AWS::Serverless::Function")
        self.machines = resources_of_type(self.template, "AWS::Serverless::StateMachine")
        self.principals = StackPrincipals(
            _client("iam", endpoint_url),
            _client("sts", endpoint_url),
            self.resolver,
            self.expanded,
            STACK_NAME,
            ACCOUNT,
        )
        self.admin_credentials: Credentials | None = None
        self.role_propagation_seconds = ROLE_PROPAGATION_SECONDS
        self._agent_clients: tuple[Any, Any] | None = None
        self._agent_lock = threading.Lock()

    @property
    def creates_batch(self) -> bool:
        return self.resolver.condition("CreateBatch")

    def _name_resources(self) -> None:
        r = self.resolver
        r.names["BuildsBucket"] = LOCAL_BUCKET
        r.arns["BuildsBucket"] = f"arn:aws:s3:::{LOCAL_BUCKET}"
        for logical in self.functions:
            name = f"{STACK_NAME}-{logical}"
            r.names[logical] = name
            r.arns[logical] = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
        for logical in resources_of_type(self.template, "AWS::SNS::Topic"):
            r.names[f"{logical}.TopicName"] = f"{STACK_NAME}-{logical}"
            r.names[logical] = f"arn:aws:sns:{REGION}:{ACCOUNT}:{STACK_NAME}-{logical}"
            r.arns[logical] = r.names[logical]
        for logical in resources_of_type(self.template, "AWS::SQS::Queue"):
            r.arns[logical] = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{STACK_NAME}-{logical}"
        for logical, resource in resources_of_type(self.expanded, "AWS::Logs::LogGroup").items():
            name = r.resolve(resource["Properties"].get("LogGroupName", f"{STACK_NAME}-{logical}"))
            r.names[logical] = name
            r.arns[logical] = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{name}:*"
        # Ref of a Batch queue or job definition is its ARN (the first revision, for a new definition).
        for kind, arn_kind, name_key, suffix in (
            ("AWS::Batch::JobQueue", "job-queue", "JobQueueName", ""),
            ("AWS::Batch::JobDefinition", "job-definition", "JobDefinitionName", ":1"),
        ):
            for logical, resource in resources_of_type(self.expanded, kind).items():
                name = r.resolve(resource["Properties"].get(name_key, f"{STACK_NAME}-{logical}"))
                r.names[logical] = f"arn:aws:batch:{REGION}:{ACCOUNT}:{arn_kind}/{name}{suffix}"
        for logical, resource in self.machines.items():
            name = r.resolve(resource["Properties"].get("Name", f"{STACK_NAME}-{logical}"))
            r.arns[logical] = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{name}"
            r.names[logical] = r.arns[logical]
            r.names[f"{logical}.Name"] = name
        self.principals.name_resources()

    def create(self) -> StackInfo:
        """Everything the stack (and, in the default shape, the team's existing setup) has on AWS.
        Runs before IAM is checked; every principal gets its own credentials."""
        self._name_resources()
        moto_fixes.load_aws_managed_policies(ACCOUNT)
        iam, s3, logs = (_client(service, self.endpoint_url) for service in ("iam", "s3", "logs"))
        guide_role = None if self.creates_batch else nextstrain_guide.create(iam, s3, logs)
        self.principals.create()
        self.admin_credentials = self.principals.user(ADMIN_USER, [], inline=ADMINISTRATOR_ACCESS)
        user = self.principals.user(LOCAL_USER, [self.principals.group(USERS_GROUP)])
        moto_fixes.fix_user_id(ACCOUNT, LOCAL_USER, LOCAL_USER_ID)

        s3.create_bucket(Bucket=LOCAL_BUCKET)
        s3.put_bucket_versioning(Bucket=LOCAL_BUCKET, VersioningConfiguration={"Status": "Enabled"})
        for resource in resources_of_type(self.expanded, "AWS::S3::BucketPolicy").values():
            properties = self.resolver.resolve(resource["Properties"])
            s3.put_bucket_policy(Bucket=properties["Bucket"], Policy=json.dumps(properties["PolicyDocument"]))

        sns = _client("sns", self.endpoint_url)
        topic_logical = next(iter(resources_of_type(self.template, "AWS::SNS::Topic")))
        topic_arn = sns.create_topic(Name=f"{STACK_NAME}-{topic_logical}")["TopicArn"]

        existing = {g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]}
        for logical, resource in resources_of_type(self.expanded, "AWS::Logs::LogGroup").items():
            condition = resource.get("Condition")
            if (condition and not self.resolver.condition(condition)) or self.resolver.names[logical] in existing:
                continue
            logs.create_log_group(logGroupName=self.resolver.names[logical])
        job_role = guide_role or self.resolver.arns["JobRole"]
        job_queue, job_definition = self._create_batch(job_role)
        outbox = self.state_dir / "outbox"
        self._create_functions(outbox)
        state_machine_arn = self._create_state_machine()
        self._create_rules()
        return StackInfo(
            endpoint_url=self.endpoint_url,
            region=REGION,
            bucket=LOCAL_BUCKET,
            state_machine_arn=state_machine_arn,
            topic_arn=topic_arn,
            job_queue=job_queue,
            job_definition=job_definition,
            outbox=str(outbox),
            credentials=user.to_dict(),
            limits=self.run_limits(outbox).model_dump(),
        )

    def run_limits(self, outbox: Path) -> Limits:
        """The limits PrepareRun checks each request against, from its environment as deployed."""
        return Settings.from_env(self._function_environment("PrepareRunFunction", outbox)).limits

    def enable_upload_events(self) -> None:
        """Turn on the bucket's EventBridge notifications (after restoring a snapshot, so a
        restored upload does not start a run again)."""
        _client("s3", self.endpoint_url).put_bucket_notification_configuration(
            Bucket=LOCAL_BUCKET, NotificationConfiguration={"EventBridgeConfiguration": {}}
        )

    def _create_batch(self, job_role_arn: str) -> tuple[str, str]:
        """The job queue and job definition the stack runs its jobs with: the guide's in the default
        shape, the template's own with CreateBatchEnvironment=true. Jobs run as the job role."""
        r = self.resolver
        batch = _client("batch", self.endpoint_url)
        # Batch's own service role: the compute environment is how the local runtime runs jobs.
        service_role = _client("iam", self.endpoint_url).create_role(
            RoleName=f"{STACK_NAME}-batch-service",
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
        )["Role"]["Arn"]
        environment = batch.create_compute_environment(
            computeEnvironmentName=f"{STACK_NAME}-compute", type="UNMANAGED", state="ENABLED", serviceRole=service_role
        )["computeEnvironmentArn"]
        queue_name = str(r.resolve(self._global_environment()["JOB_QUEUE"]))
        definition_name = str(r.resolve(self._global_environment()["JOB_DEFINITION"]))
        # The stack's queue, and the team's on-demand queue for reruns after a Spot reclaim if one is named.
        for name in dict.fromkeys([queue_name, r.parameters.get("OnDemandJobQueue", "")]):
            if name:
                batch.create_job_queue(
                    jobQueueName=name,
                    state="ENABLED",
                    priority=1,
                    computeEnvironmentOrder=[{"order": 1, "computeEnvironment": environment}],
                )
        if self.creates_batch:
            definition = resources_of_type(self.template, "AWS::Batch::JobDefinition")
            properties = _camel(r.resolve(next(iter(definition.values()))["Properties"]))
            container = properties["containerProperties"]
            kept = {k: properties[k] for k in ("retryStrategy", "timeout") if k in properties}
        else:
            container = dict(nextstrain_guide.JOB_CONTAINER)
            kept = {"timeout": {"attemptDurationSeconds": nextstrain_guide.JOB_TIMEOUT_SECONDS}}
        container["jobRoleArn"] = job_role_arn
        # Parameters resolve to strings; these two are integers in the API.
        if "timeout" in kept:
            kept["timeout"]["attemptDurationSeconds"] = int(kept["timeout"]["attemptDurationSeconds"])
        if "retryStrategy" in kept:
            kept["retryStrategy"]["attempts"] = int(kept["retryStrategy"]["attempts"])
        batch.register_job_definition(
            jobDefinitionName=definition_name, type="container", containerProperties=container, **kept
        )

        queue = resources_of_type(self.template, "AWS::Batch::JobQueue")
        actions = next(iter(queue.values()))["Properties"].get("JobStateTimeLimitActions", []) if queue else []
        limit = int(r.resolve(actions[0]["MaxTimeSeconds"])) if actions else 0
        batch_runtime = self.runtime.batch
        batch_runtime.max_vcpus = int(r.parameters.get("LocalMaxVcpus", LOCAL_MAX_VCPUS))
        batch_runtime.runnable_timeout_seconds = limit
        batch_runtime.stuck_reason = str(r.resolve(actions[0]["Reason"])) if actions else "stuck RUNNABLE"
        batch_runtime.credentials = ContainerCredentialsEndpoint(self.assume_for_job)
        return queue_name, definition_name

    def assume_for_job(self, role_arn: str, session_name: str) -> Credentials:
        """A job role's credentials as ECS's agent gets them for a task (AssumeRole, the task as session):
        refused while the role is younger than IAM takes to make it known."""
        iam, sts = self._ecs_agent_clients()
        try:
            role = iam.get_role(RoleName=role_arn.rsplit("/", 1)[-1])["Role"]
        except iam.exceptions.NoSuchEntityException:
            raise RoleNotAssumable(f"{role_arn} does not exist") from None
        age = (datetime.now(UTC) - role["CreateDate"]).total_seconds()
        if age < self.role_propagation_seconds:
            raise RoleNotAssumable(f"{role_arn} is not yet assumable by ecs-tasks.amazonaws.com ({age:.1f}s old)")
        issued = sts.assume_role(RoleArn=role_arn, RoleSessionName=session_name[:64])["Credentials"]
        return Credentials(issued["AccessKeyId"], issued["SecretAccessKey"], issued["SessionToken"])

    def _ecs_agent_clients(self) -> tuple[Any, Any]:
        """The IAM and STS clients ECS's agent assumes job roles with: made once (a client costs a
        loaded machine a good part of a second), then shared by every job's thread, as clients may be."""
        with self._agent_lock:
            if self._agent_clients is None:
                assert self.admin_credentials is not None
                self._agent_clients = (
                    _client("iam", self.endpoint_url, self.admin_credentials),
                    _client("sts", self.endpoint_url, self.admin_credentials),
                )
            return self._agent_clients

    def _global_environment(self) -> dict[str, Any]:
        variables: dict[str, Any] = self.template.get("Globals", {}).get("Function", {}).get("Environment", {})
        return dict(variables.get("Variables", {}))

    def _function_environment(self, logical: str, outbox: Path) -> dict[str, str]:
        """The function's environment as SAM deploys it (Globals merged in by the transform)."""
        expanded = self.expanded["Resources"][logical]["Properties"].get("Environment", {}).get("Variables", {})
        variables = dict(self.resolver.resolve(expanded))
        variables["OUTBOX_DIR"] = str(outbox)
        variables["LOCAL_TOOLCHAIN"] = "1"
        variables["AWS_REGION"] = REGION
        if "JOB_ROLE_SETTLE_SECONDS" in variables:
            variables["JOB_ROLE_SETTLE_SECONDS"] = str(LOCAL_JOB_ROLE_SETTLE_SECONDS)
        return {k: str(v) for k, v in variables.items()}

    def _create_functions(self, outbox: Path) -> None:
        lam = _client("lambda", self.endpoint_url)
        globals_ = self.template.get("Globals", {}).get("Function", {})
        for logical, resource in self.functions.items():
            properties = resource["Properties"]
            name = self.resolver.names[logical]
            environment = self._function_environment(logical, outbox)
            handler = properties.get("Handler", globals_.get("Handler", "app.lambda_handler"))
            role = self.principals.role_of(logical)
            timeout = int(properties.get("Timeout", globals_.get("Timeout", 300)))
            lam.create_function(
                FunctionName=name,
                Runtime=properties.get("Runtime", globals_.get("Runtime", "python3.12")),
                Role=role,
                Handler=handler,
                Code={"ZipFile": _dummy_code()},
                Environment={"Variables": environment},
                Timeout=timeout,
            )
            self.runtime.lambdas.functions[name] = LocalFunction(
                code_dir=self.root / properties["CodeUri"],
                handler=handler,
                # The handlers' clients call this server (on AWS, Lambda's region's own endpoints).
                environment={**environment, "AWS_ENDPOINT_URL": self.endpoint_url},
                credentials=self.principals.assume(role, name),
                timeout_seconds=timeout,
            )
        self._share_library_settings()

    def _share_library_settings(self) -> None:
        """powertools reads its settings (POWERTOOLS_*) from the process environment as a handler's module is
        imported. Every function has the same ones (the template's Globals), so the process gets them once,
        before any handler loads, leaving those it was started with; each invocation's own environment is
        given to it by the Lambda runtime."""
        environments = [set(f.environment.items()) for f in self.runtime.lambdas.functions.values()]
        for name, value in set.intersection(*environments) if environments else set():
            if name.startswith("POWERTOOLS_"):
                os.environ.setdefault(name, value)

    def definition(self, logical: str) -> dict[str, Any]:
        """The state machine's ASL with DefinitionSubstitutions applied, as Step Functions gets it."""
        properties = self.machines[logical]["Properties"]
        text = (self.root / properties["DefinitionUri"]).read_text()
        substitutions = {
            k: str(self.resolver.resolve(v)) for k, v in properties.get("DefinitionSubstitutions", {}).items()
        }
        text = re.sub(r"\$\{([A-Za-z0-9]+)\}", lambda m: substitutions[m[1]], text)
        document: dict[str, Any] = yaml.safe_load(text)
        return document

    def _create_state_machine(self) -> str:
        sfn = _client("stepfunctions", self.endpoint_url)
        logical = next(iter(self.machines))
        name = self.resolver.arns[logical].rsplit(":", 1)[-1]
        role = self.principals.role_of(logical)
        self.runtime.state_machine_credentials = self.principals.assume(role, name)
        return str(
            sfn.create_state_machine(name=name, definition=json.dumps(self.definition(logical)), roleArn=role)[
                "stateMachineArn"
            ]
        )

    def _create_rules(self) -> None:
        events = _client("events", self.endpoint_url)
        for logical, resource in self.functions.items():
            for event_name, event in resource["Properties"].get("Events", {}).items():
                if event.get("Type") != "EventBridgeRule":
                    continue
                pattern = self.resolver.resolve(event["Properties"]["Pattern"])
                rule = f"{STACK_NAME}-{logical}-{event_name}"[:64]
                events.put_rule(Name=rule, EventPattern=json.dumps(pattern), State="ENABLED")
                events.put_targets(Rule=rule, Targets=[{"Id": "1", "Arn": self.resolver.arns[logical]}])
