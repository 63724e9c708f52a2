"""Each handler called as Lambda calls it: its `lambda_handler` with an event from tests/events/ and a Lambda
context, against moto in this process (mock_aws, no server), with the environment the template gives it.

moto is started without a reset and stopped without wiping its data: a session that runs the pipeline tests
too has the local backend's moto server in this same process. So each test has resources of its own (names
made unique) in a region the local backend does not use."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core.config import default_user_config

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "tests" / "events"
REGION = "eu-west-3"  # not the local backend's
ACCOUNT = "123456789012"
OWNER = "AIDAEXAMPLEOWNER01"  # the inbox folder the sample events name
RUN_ID = "zika-0123456789"
# An execution that stays RUNNING (were moto to execute definitions, as the local backend has it do).
WAITING_DEFINITION = json.dumps({"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 3600, "End": True}}})


JOB_ROLE_BOUNDARY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:*Object", "Resource": "arn:aws:s3:::*/runs/*"}],
}


@dataclass
class LambdaContext:
    """What Lambda passes as `context` (the attributes powertools and the handlers read)."""

    function_name: str
    memory_limit_in_mb: int = 512
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    remaining_millis: int = 300_000

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_millis


@dataclass
class Stack:
    """The stack's resources in moto, and clients to look at them with."""

    bucket: str
    job_queue: str  # the JOB_QUEUE name (the job_queue fixture creates it)
    s3: Any
    sfn: Any
    sns: Any
    sqs: Any
    logs: Any
    state_machine_arn: str
    topic_arn: str
    topic_queue_url: str  # an SQS queue subscribed to the notice topic: what was published

    def topic_messages(self) -> list[str]:
        received = self.sqs.receive_message(QueueUrl=self.topic_queue_url, MaxNumberOfMessages=10)
        return [str(message["Body"]) for message in received.get("Messages", [])]


# One session for every test's clients: moto resets boto3's default session at each mock, and a new session
# parses the services' models again (most of a test's time). The handlers' own clients are cached likewise
# (nsclient_common.aws); moto intercepts any client's requests while a mock is active.
_SESSION: Any = boto3.session.Session(region_name=REGION)


def client(service: str) -> Any:
    return _SESSION.client(service)


def event(path: str) -> dict[str, Any]:
    """The sample event tests/events/<path>.json."""
    loaded: dict[str, Any] = json.loads((EVENTS / f"{path}.json").read_text())
    return loaded


def handler(name: str) -> ModuleType:
    """functions/<name>/app.py, loaded afresh (as a cold start)."""
    spec = importlib.util.spec_from_file_location(
        f"handler_{name}_{uuid.uuid4().hex}", ROOT / "functions" / name / "app.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # pydantic resolves postponed annotations through sys.modules
    spec.loader.exec_module(module)
    return module


def metrics_emitted(output: str) -> list[dict[str, str]]:
    """Each count the output carries in the embedded metric format: its name and dimensions."""
    counts = []
    for line in output.splitlines():
        if not (line.startswith("{") and '"_aws"' in line):
            continue
        document = json.loads(line)
        for directive in document["_aws"]["CloudWatchMetrics"]:
            dimensions = {name: document[name] for names in directive["Dimensions"] for name in names}
            for metric in directive["Metrics"]:
                counts.append({"metric": metric["Name"], "namespace": directive["Namespace"], **dimensions})
    return counts


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)  # a local backend started earlier points clients at it
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    monkeypatch.setitem(default_user_config, "stepfunctions", {"execute_state_machine": False})
    monkeypatch.setenv("AWS_REGION", REGION)
    unique = uuid.uuid4().hex[:10]
    mock = mock_aws()
    mock.start(reset=False)
    try:
        s3, sfn, sns, sqs, logs = (client(s) for s in ("s3", "stepfunctions", "sns", "sqs", "logs"))
        bucket = f"builds-{unique}"
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        role = f"arn:aws:iam::{ACCOUNT}:role/RunBuildStateMachineRole"
        machine = sfn.create_state_machine(name=f"run-build-{unique}", definition=WAITING_DEFINITION, roleArn=role)
        topic = sns.create_topic(Name=f"notices-{unique}")["TopicArn"]
        queue_url = sqs.create_queue(QueueName=f"notices-{unique}")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
        with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
            logs.create_log_group(logGroupName="/aws/batch/job")
        # Job roles are made under the stack's path and boundary (a path of this test's own: IAM is global).
        boundary = client("iam").create_policy(
            PolicyName=f"JobRoleBoundary-{unique}", PolicyDocument=json.dumps(JOB_ROLE_BOUNDARY)
        )["Policy"]["Arn"]
        # What the template's Globals give every function (ReconcileRun, StartRun and CancelRun add the machine),
        # and PrepareRun's own job role settings.
        environment = {
            "JOB_ROLE_PATH": f"/nsclient/{REGION}/handlers-{unique}/",
            "JOB_ROLE_BOUNDARY_ARN": boundary,
            "JOB_ROLE_SETTLE_SECONDS": "0",
            "BUCKET_NAME": bucket,
            "TOPIC_ARN": topic,
            "JOB_QUEUE": f"nextstrain-job-queue-{unique}",
            "JOB_DEFINITION": "nextstrain-job",
            "ON_DEMAND_JOB_QUEUE": "",
            "STATE_MACHINE_ARN": machine["stateMachineArn"],
            "NOTIFY_FROM": "",
        }
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("OUTBOX_DIR", raising=False)
        yield Stack(
            bucket, environment["JOB_QUEUE"], s3, sfn, sns, sqs, logs, machine["stateMachineArn"], topic, queue_url
        )
    finally:
        mock.stop(remove_data=False)


@pytest.fixture
def job_queue(stack: Stack) -> str:
    """The stack's Batch queue (JOB_QUEUE), with no jobs."""
    iam, batch = client("iam"), client("batch")
    trust = {"Version": "2012-10-17", "Statement": []}
    name = stack.job_queue
    role = iam.create_role(RoleName=f"BatchService-{name}", AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    environment = batch.create_compute_environment(
        computeEnvironmentName=name, type="UNMANAGED", state="ENABLED", serviceRole=role["Arn"]
    )
    order = [{"order": 1, "computeEnvironment": environment["computeEnvironmentArn"]}]
    batch.create_job_queue(jobQueueName=name, state="ENABLED", priority=1, computeEnvironmentOrder=order)
    return name
