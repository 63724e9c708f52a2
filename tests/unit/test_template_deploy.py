"""template.yaml deploys on the first try, in both shapes: names fit, limits add up, grants are narrow.

The template is expanded with the SAM translator (what CloudFormation's transform does) and its
intrinsics resolved for given parameters, offline.
"""

from __future__ import annotations

import fnmatch
import itertools
import re
from pathlib import Path
from typing import Any

import boto3
import pytest
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator

from nsclient.local.template import Resolver, load_template
from nsclient_common.request import InvalidRequest, parse_request
from nsclient_common.settings import Limits, Settings

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
STATE_MACHINE_DEFINITION = ROOT / "statemachine" / "run_build.asl.yaml"
LONGEST_STACK_NAME = "s" * 128  # CloudFormation's limit
SHAPES = {
    "existing": {"CreateBatchEnvironment": "false"},
    "created": {
        "CreateBatchEnvironment": "true",
        "SubnetIds": "subnet-0123456789abcdef0",
        "VpcId": "vpc-0123456789abcdef0",
        "OnDemandJobQueue": "nextstrain-job-queue-on-demand",
    },
}

# Name properties and the length CloudFormation / the service accepts.
NAME_LIMITS = {
    ("AWS::Events::Rule", "Name"): 64,
    ("AWS::StepFunctions::StateMachine", "StateMachineName"): 80,
    ("AWS::Logs::LogGroup", "LogGroupName"): 512,
    ("AWS::Batch::JobQueue", "JobQueueName"): 128,
    ("AWS::Batch::JobDefinition", "JobDefinitionName"): 128,
    ("AWS::Batch::ComputeEnvironment", "ComputeEnvironmentName"): 128,
    ("AWS::Lambda::Function", "FunctionName"): 64,
    ("AWS::Lambda::LayerVersion", "LayerName"): 140,
    ("AWS::IAM::Role", "RoleName"): 64,
    ("AWS::IAM::Group", "GroupName"): 128,
    ("AWS::IAM::InstanceProfile", "InstanceProfileName"): 128,
    ("AWS::SQS::Queue", "QueueName"): 80,
    ("AWS::SNS::Topic", "TopicName"): 256,
    ("AWS::S3::Bucket", "BucketName"): 63,
    ("AWS::EC2::LaunchTemplate", "LaunchTemplateName"): 128,
    ("AWS::EC2::SecurityGroup", "GroupName"): 255,
}


def expanded_template() -> dict[str, Any]:
    """The template as CloudFormation sees it after the SAM transform (code locations made S3 URIs)."""
    template = load_template(TEMPLATE)
    for resource in template["Resources"].values():
        properties = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if key in properties:
                properties[key] = "s3://bucket/code.zip"
        if "DefinitionUri" in properties:
            properties["DefinitionUri"] = {"Bucket": "bucket", "Key": "definition.json"}
    session = boto3.session.Session(region_name="us-east-1", aws_access_key_id="offline", aws_secret_access_key="x")
    translator = Translator(None, Parser(), boto_session=session)
    expanded: dict[str, Any] = translator.translate(template, parameter_values={}, get_managed_policy_map=dict)
    return expanded


EXPANDED = expanded_template()
TPL = load_template(TEMPLATE)


def resolver(parameters: dict[str, str], stack_name: str = LONGEST_STACK_NAME) -> Resolver:
    return Resolver(
        EXPANDED,
        dict(parameters),
        pseudo={
            "AWS::StackName": stack_name,
            "AWS::StackId": f"arn:aws:cloudformation:us-east-1:123456789012:stack/{stack_name}/"
            "0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d",
            "AWS::Region": "us-east-1",
            "AWS::AccountId": "123456789012",
            "AWS::Partition": "aws",
        },
    )


def deployed_resources(r: Resolver) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in EXPANDED["Resources"].items() if "Condition" not in v or r.condition(v["Condition"])}


# --- names ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES)
def test_every_name_fits_its_limit_with_the_longest_stack_name(shape: str):
    r = resolver(SHAPES[shape])
    checked = 0
    for logical_id, resource in deployed_resources(r).items():
        for (kind, name_property), limit in NAME_LIMITS.items():
            if resource["Type"] == kind and name_property in resource.get("Properties", {}):
                name = str(r.resolve(resource["Properties"][name_property]))
                assert len(name) <= limit, f"{logical_id}.{name_property} is {len(name)} > {limit}: {name}"
                checked += 1
    assert checked >= (3 if shape == "created" else 1)


def test_created_batch_names_do_not_depend_on_the_stack_name():
    names = {
        length: resolver(SHAPES["created"], "n" * length).resolve(TPL["Globals"]["Function"]["Environment"])
        for length in (1, 128)
    }
    assert names[1]["Variables"]["JOB_QUEUE"] == names[128]["Variables"]["JOB_QUEUE"]
    assert names[1]["Variables"]["JOB_DEFINITION"] == names[128]["Variables"]["JOB_DEFINITION"]


# --- log retention -------------------------------------------------------------------------------------------


def test_every_log_group_the_stack_owns_expires():
    groups = {k: v for k, v in EXPANDED["Resources"].items() if v["Type"] == "AWS::Logs::LogGroup"}
    assert len(groups) >= 8  # six functions, the state machine, the created Batch job group
    for logical_id, group in groups.items():
        assert group["Properties"].get("RetentionInDays") == {"Ref": "RetentionDays"}, logical_id
        assert group.get("DeletionPolicy") == "Delete", logical_id


def test_every_function_logs_to_a_group_of_the_stack():
    functions = {k: v for k, v in EXPANDED["Resources"].items() if v["Type"] == "AWS::Lambda::Function"}
    assert len(functions) == 8
    for logical_id, function in functions.items():
        target = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        assert EXPANDED["Resources"][target]["Type"] == "AWS::Logs::LogGroup", logical_id


# --- partitions ----------------------------------------------------------------------------------------------


def test_no_arn_names_the_aws_partition_literally():
    # aws-cn and aws-us-gov have their own partition: ARNs take it from AWS::Partition.
    assert "arn:aws:" not in STATE_MACHINE_DEFINITION.read_text()
    assert "arn:aws:" not in TEMPLATE.read_text()
    substitutions = TPL["Resources"]["RunBuildStateMachine"]["Properties"]["DefinitionSubstitutions"]
    assert substitutions["Partition"] == {"Ref": "AWS::Partition"}
    assert "arn:${Partition}:states:::batch:submitJob.sync" in STATE_MACHINE_DEFINITION.read_text()


def test_dead_letter_queue_accepts_the_generated_inbox_rules_only():
    statement = TPL["Resources"]["TriggerDeadLetterQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    source = statement["Condition"]["ArnEquals"]["aws:SourceArn"]
    rules = [
        "StartRunFunctionInboxZipCreated",
        "CancelRunFunctionCancelRequested",
        "NoticeSubscriptionFunctionSubscriptionRequested",
    ]
    assert source == [{"Fn::GetAtt": [rule, "Arn"]} for rule in rules]
    assert all(EXPANDED["Resources"][rule]["Type"] == "AWS::Events::Rule" for rule in rules)


# --- the state machine's Batch grants ------------------------------------------------------------------------


def state_machine_statements(r: Resolver) -> list[dict[str, Any]]:
    role = EXPANDED["Resources"]["RunBuildStateMachineRole"]["Properties"]
    statements: list[dict[str, Any]] = []
    for policy in role["Policies"]:
        statements += r.resolve(policy["PolicyDocument"]["Statement"])
    return statements


def allowed(statements: list[dict[str, Any]], action: str, resource: str) -> bool:
    for statement in statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        resources = [x for x in resources if x != "AWS::NoValue"]
        if action in actions and any(fnmatch.fnmatchcase(resource, pattern) for pattern in resources):
            return True
    return False


@pytest.mark.parametrize("shape", SHAPES)
def test_state_machine_submits_only_to_its_queues_and_definitions(shape: str):
    r = resolver(SHAPES[shape])
    settings = Settings.from_env(r.resolve(TPL["Globals"]["Function"]["Environment"]["Variables"]))
    arn = "arn:aws:batch:us-east-1:123456789012:"
    r.names["BatchJobQueue"] = f"{arn}job-queue/{settings.job_queue}"  # Ref of a job queue is its ARN
    statements = state_machine_statements(r)
    # Batch authorizes SubmitJob against the queue and the definition revision.
    assert allowed(statements, "batch:SubmitJob", f"{arn}job-queue/{settings.job_queue}")
    assert allowed(statements, "batch:SubmitJob", f"{arn}job-definition/{settings.job_definition}:7")
    # A definition PrepareRun derives for --image (named as the Nextstrain CLI names it).
    derived = f"{settings.job_definition}_7_nextstrain-base_build-20250101"
    assert allowed(statements, "batch:SubmitJob", f"{arn}job-definition/{derived}:1")
    assert allowed(statements, "batch:SubmitJob", f"{arn}job-queue/{settings.on_demand_job_queue}") == (
        shape == "created"
    )
    assert not allowed(statements, "batch:SubmitJob", f"{arn}job-queue/someone-elses-queue")
    assert not allowed(statements, "batch:SubmitJob", f"{arn}job-definition/someone-elses-job:1")
    assert allowed(statements, "batch:TerminateJob", f"{arn}job/0a1b2c3d")
    assert not allowed(statements, "batch:TerminateJob", f"{arn}job-queue/{settings.job_queue}")
    # DescribeJobs has no resource-level permissions; it is the only Batch action on "*".
    batch_on_anything = {
        action
        for statement in statements
        if statement["Resource"] == "*"
        for action in (statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]])
        if action.startswith("batch:")
    }
    assert batch_on_anything == {"batch:DescribeJobs"}


# --- limits that add up ---------------------------------------------------------------------------------------


def lambda_timeout(logical_id: str) -> int:
    own = TPL["Resources"][logical_id]["Properties"].get("Timeout")
    return int(own if own is not None else TPL["Globals"]["Function"]["Timeout"])


def test_execution_limit_outlasts_every_combination_of_job_limits():
    """The execution must never time out before the job's own limits act: enumerate the worst case."""
    definition = STATE_MACHINE_DEFINITION.read_text()
    job_states = len(re.findall(r"Resource: arn:\$\{Partition\}:states:::batch:submitJob\.sync", definition))
    assert job_states == 2  # SubmitBuildJob, and RetryOnDemandJob once after a Spot reclaim
    attempts = TPL["Resources"]["BatchJobDefinition"]["Properties"]["RetryStrategy"]["Attempts"]
    # Every Lambda step on the longest path: PrepareRun, CollectLogs after each job, FinalizeRun, its
    # fallback, NotifyRun.
    wrap_up = (
        lambda_timeout("PrepareRunFunction")
        + job_states * lambda_timeout("CollectLogsFunction")
        + 2 * lambda_timeout("FinalizeRunFunction")
        + lambda_timeout("NotifyRunFunction")
    )
    substitution = TPL["Resources"]["RunBuildStateMachine"]["Properties"]["DefinitionSubstitutions"]
    assert substitution["ExecutionTimeoutSeconds"] == {
        "Fn::FindInMap": ["ExecutionTimeoutSeconds", {"Ref": "JobTimeoutSeconds"}, {"Ref": "RunnableTimeoutSeconds"}]
    }
    # The job and queue limits are these very parameters.
    definition_timeout = TPL["Resources"]["BatchJobDefinition"]["Properties"]["Timeout"]["AttemptDurationSeconds"]
    assert definition_timeout == {"Ref": "JobTimeoutSeconds"}
    for action in TPL["Resources"]["BatchJobQueue"]["Properties"]["JobStateTimeLimitActions"]:
        assert action["MaxTimeSeconds"] == {"Ref": "RunnableTimeoutSeconds"}

    job_limits = TPL["Parameters"]["JobTimeoutSeconds"]["AllowedValues"]
    runnable_limits = TPL["Parameters"]["RunnableTimeoutSeconds"]["AllowedValues"]
    for job_limit, runnable_limit in itertools.product(job_limits, runnable_limits):
        r = resolver({"JobTimeoutSeconds": str(job_limit), "RunnableTimeoutSeconds": str(runnable_limit)})
        execution_limit = int(r.resolve(substitution["ExecutionTimeoutSeconds"]))
        worst_case = job_states * (runnable_limit + attempts * job_limit) + wrap_up
        assert execution_limit >= worst_case, (job_limit, runnable_limit)
        assert execution_limit <= 99_999_999  # Step Functions' maximum TimeoutSeconds


@pytest.mark.parametrize("shape", SHAPES)
def test_accepted_cpus_never_exceed_the_created_compute_environment(shape: str):
    parameters = TPL["Parameters"]
    assert parameters["MaxCpus"]["Default"] <= parameters["MaxVcpus"]["Default"]
    for max_cpus, max_vcpus in ((96, 64), (32, 64), (64, 64)):
        r = resolver({**SHAPES[shape], "MaxCpus": str(max_cpus), "MaxVcpus": str(max_vcpus)})
        limits = Settings.from_env(r.resolve(TPL["Globals"]["Function"]["Environment"]["Variables"])).limits
        runnable = min(max_cpus, max_vcpus) if shape == "created" else max_cpus
        assert parse_request({"cpus": str(runnable)}, limits).cpus == runnable
        with pytest.raises(InvalidRequest):
            parse_request({"cpus": str(runnable + 1)}, limits)


def test_cpus_beyond_the_compute_environment_are_refused_in_one_sentence():
    limits = Limits(max_cpus=96, compute_max_vcpus=64)
    with pytest.raises(InvalidRequest) as refused:
        parse_request({"cpus": "96"}, limits)
    assert str(refused.value) == "cpus 96 is more than the 64 vCPUs of this deployment's compute environment"
