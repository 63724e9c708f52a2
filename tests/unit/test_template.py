"""Offline checks of template.yaml: the deployed backend's guarantees a user relies on.

No AWS account is needed: the template is parsed as YAML (CloudFormation short tags become the
equivalent long-form dicts) and linted with cfn-lint.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

from nsclient.local.template import load_template as load_cfn_template
from nsclient_common.settings import LIMIT_VARIABLES, SETTING_VARIABLES, Limits, Settings

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
CONTRACT = ROOT / "docs" / "CONTRACT.md"
STATE_MACHINE_DEFINITION = ROOT / "statemachine" / "run_build.asl.yaml"

FUNCTIONS = {
    "StartRunFunction": "start_run",
    "CancelRunFunction": "cancel_run",
    "NoticeSubscriptionFunction": "notice_subscription",
    "PrepareRunFunction": "prepare_run",
    "CollectLogsFunction": "collect_logs",
    "FinalizeRunFunction": "finalize_run",
    "NotifyRunFunction": "notify_run",
    "ReconcileRunFunction": "reconcile_run",
}


def load_template() -> dict[str, Any]:
    return load_cfn_template(TEMPLATE)


TPL = load_template()
RESOURCES: dict[str, Any] = TPL["Resources"]
PARAMETERS: dict[str, Any] = TPL["Parameters"]


def props(logical_id: str) -> dict[str, Any]:
    return RESOURCES[logical_id].get("Properties", {})


def default_of(value: Any) -> Any:
    """A value as deployed with default parameters: {"Ref": Param} becomes the parameter's default."""
    if isinstance(value, dict) and set(value) == {"Ref"} and value["Ref"] in PARAMETERS:
        return PARAMETERS[value["Ref"]].get("Default")
    return value


def eventbridge_wildcard_matches(pattern: str, text: str) -> bool:
    """EventBridge "wildcard" semantics: * matches any run of characters, including '/'."""
    return re.fullmatch(".*".join(re.escape(part) for part in pattern.split("*")), text) is not None


# --- storage -----------------------------------------------------------------------------------------------


def test_bucket_is_private_encrypted_and_versioned():
    bucket = props("BuildsBucket")
    block = bucket["PublicAccessBlockConfiguration"]
    assert all(
        block[k] is True for k in ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")
    )
    assert bucket["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    sse = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert sse["SSEAlgorithm"] == "AES256"
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert bucket["NotificationConfiguration"]["EventBridgeConfiguration"]["EventBridgeEnabled"] is True


def test_bucket_denies_plain_http():
    policy = props("BuildsBucketPolicy")
    assert policy["Bucket"] == {"Ref": "BuildsBucket"}
    denies = [s for s in policy["PolicyDocument"]["Statement"] if s.get("Effect") == "Deny"]
    assert any(s["Condition"]["Bool"]["aws:SecureTransport"] == "false" for s in denies)


def test_bucket_lifecycle_expires_uploads_and_runs_after_30_days():
    rules = props("BuildsBucket")["LifecycleConfiguration"]["Rules"]
    assert all(rule["Status"] == "Enabled" for rule in rules)
    expiry = {rule.get("Prefix"): default_of(rule["ExpirationInDays"]) for rule in rules if "ExpirationInDays" in rule}
    assert expiry == {"inbox/": 30, "runs/": 30}
    # pull reads the first version of runs/<id>/workdir.zip (noncurrent once the job wrote its results):
    # it must live as long as the run it belongs to.
    noncurrent = [
        rule["NoncurrentVersionExpiration"]["NoncurrentDays"] for rule in rules if "NoncurrentVersionExpiration" in rule
    ]
    assert noncurrent == [{"Ref": "RetentionDays"}]
    assert any(rule.get("AbortIncompleteMultipartUpload", {}).get("DaysAfterInitiation") == 1 for rule in rules)


# --- functions ---------------------------------------------------------------------------------------------


def test_every_function_points_at_existing_code():
    functions = {k: v for k, v in RESOURCES.items() if v["Type"] == "AWS::Serverless::Function"}
    assert set(functions) == set(FUNCTIONS)
    for logical_id, directory in FUNCTIONS.items():
        properties = functions[logical_id]["Properties"]
        assert properties["CodeUri"] == f"functions/{directory}/"
        assert properties["Handler"] == "app.lambda_handler"
        # Fails (not skips) while a function's code is missing: the stack would not build.
        assert (ROOT / properties["CodeUri"] / "app.py").is_file(), f"{properties['CodeUri']}app.py is missing"


def test_the_contract_lists_every_function():
    rows = re.findall(r"^\| (\w+) +\| (\w+) +\|", CONTRACT.read_text(), re.MULTILINE)
    assert {logical_id: directory for directory, logical_id in rows if directory != "dir"} == FUNCTIONS


def test_common_layer_is_shared_by_all_functions():
    layer = RESOURCES["CommonLayer"]
    assert layer["Properties"]["ContentUri"] == "functions/common/"
    assert layer["Metadata"]["BuildMethod"] == "python3.12"
    assert (ROOT / "functions" / "common" / "requirements.txt").is_file()
    function_globals = TPL["Globals"]["Function"]
    assert function_globals["Runtime"] == "python3.12"
    assert function_globals["Layers"] == [{"Ref": "CommonLayer"}]


# The variables the functions read (nsclient_common.settings) that the template does not give every function:
# the state machine's ARN only to those that start, cancel or look at executions; the job role settings only to
# PrepareRun, which makes the roles; the outbox directory and the local toolchain only on the local backend, which
# writes notices there as files and runs builds with this machine's snakemake.
NOT_GLOBAL = {
    "AWS_REGION",  # Lambda sets it
    "STATE_MACHINE_ARN",
    "JOB_ROLE_PATH",
    "JOB_ROLE_BOUNDARY_ARN",
    "JOB_ROLE_SETTLE_SECONDS",
    "OUTBOX_DIR",
    "LOCAL_TOOLCHAIN",
}


def test_function_environment_is_what_the_settings_read():
    variables = TPL["Globals"]["Function"]["Environment"]["Variables"]
    assert set(variables) == (set(SETTING_VARIABLES.values()) | set(LIMIT_VARIABLES.values())) - NOT_GLOBAL
    assert "LOG_GROUP" not in variables  # each job's description names its group (describedjob.log_group_of)
    with_arn = {k for k in FUNCTIONS if "STATE_MACHINE_ARN" in props(k).get("Environment", {}).get("Variables", {})}
    assert with_arn == {"StartRunFunction", "CancelRunFunction", "ReconcileRunFunction"}


def test_the_contract_names_every_variable_the_functions_read():
    section = CONTRACT.read_text().split("## Environment variables", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"\b[A-Z][A-Z0-9_]+\b", section))
    missing = (set(SETTING_VARIABLES.values()) | set(LIMIT_VARIABLES.values())) - named
    assert not missing, f"docs/CONTRACT.md does not name {sorted(missing)}"


def _default_value(value: Any) -> str | None:
    """A function variable's value in a stack deployed with every parameter's default (CreateBatchEnvironment
    is false by default, so the false branch of each CreateBatch condition); None for a resource's name."""
    if isinstance(value, dict) and "Fn::If" in value:
        condition, _, when_false = value["Fn::If"]
        assert condition == "CreateBatch" and PARAMETERS["CreateBatchEnvironment"]["Default"] == "false"
        return _default_value(when_false)
    if isinstance(value, dict) and "Fn::Join" in value:
        return _default_value(value["Fn::Join"][1])  # a list parameter's default is written comma-joined
    if isinstance(value, dict) and value.get("Ref") in PARAMETERS:
        return str(PARAMETERS[value["Ref"]].get("Default", ""))
    return str(value) if isinstance(value, str | int | float) else None


def test_parameter_defaults_are_the_settings_defaults():
    # What the functions read from a stack deployed with the defaults is what Settings assumes unset
    variables = TPL["Globals"]["Function"]["Environment"]["Variables"]
    deployed = {name: v for name, value in variables.items() if (v := _default_value(value)) is not None}
    assert {"JOB_QUEUE", "JOB_DEFINITION", "MAX_CPUS", "MAX_MEMORY_MIB", "MAX_UPLOAD_BYTES"} <= set(deployed)

    read = Settings.from_env({**deployed, "BUCKET_NAME": "builds"})

    assert read.limits == Limits()
    assert read == Settings(bucket="builds", topic_arn=read.topic_arn, state_machine_arn=read.state_machine_arn)


def test_state_machine_arn_is_taken_from_the_state_machine():
    # Unnamed (a long stack name would overflow its 80 characters), so everything refers to it by Ref.
    assert "Name" not in props("RunBuildStateMachine")
    expected = {"Ref": "RunBuildStateMachine"}
    for logical_id in ("StartRunFunction", "CancelRunFunction", "ReconcileRunFunction"):
        assert props(logical_id)["Environment"]["Variables"]["STATE_MACHINE_ARN"] == expected
    rule = props("ReconcileRunFunction")["Events"]["ExecutionEndedBadly"]["Properties"]["Pattern"]
    assert rule["detail"]["stateMachineArn"] == [expected]


# --- triggers ----------------------------------------------------------------------------------------------


def test_upload_trigger_matches_zips_under_inbox_only():
    event = props("StartRunFunction")["Events"]["InboxZipCreated"]
    assert event["Type"] == "EventBridgeRule"
    pattern = event["Properties"]["Pattern"]
    assert pattern["source"] == ["aws.s3"]
    assert pattern["detail-type"] == ["Object Created"]
    assert pattern["detail"]["bucket"]["name"] == [{"Ref": "BuildsBucket"}]
    assert pattern["detail"]["object"]["key"] == [{"wildcard": "inbox/*.zip"}]
    wildcard = pattern["detail"]["object"]["key"][0]["wildcard"]
    for key in ("inbox/zika.zip", "inbox/team/zika.zip"):
        assert eventbridge_wildcard_matches(wildcard, key), key
    for key in ("runs/abc/workdir.zip", "inbox/zika.tar", "inbox/zika.zip.tmp", "other/inbox/zika.zip"):
        assert not eventbridge_wildcard_matches(wildcard, key), key


def test_upload_trigger_retries_then_dead_letters():
    start = props("StartRunFunction")
    rule = start["Events"]["InboxZipCreated"]["Properties"]
    assert rule["RetryPolicy"] == {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400}
    assert rule["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": ["TriggerDeadLetterQueue", "Arn"]}
    assert RESOURCES["TriggerDeadLetterQueue"]["Type"] == "AWS::SQS::Queue"
    assert start["EventInvokeConfig"]["MaximumRetryAttempts"] == 2


def test_backstop_rule_reacts_to_failed_executions():
    pattern = props("ReconcileRunFunction")["Events"]["ExecutionEndedBadly"]["Properties"]["Pattern"]
    assert pattern["source"] == ["aws.states"]
    assert pattern["detail-type"] == ["Step Functions Execution Status Change"]
    assert set(pattern["detail"]["status"]) == {"FAILED", "TIMED_OUT", "ABORTED"}


def test_backstop_events_are_retried_then_dead_lettered():
    reconcile = props("ReconcileRunFunction")
    rule = reconcile["Events"]["ExecutionEndedBadly"]["Properties"]
    queue = {"Fn::GetAtt": ["ReconcileDeadLetterQueue", "Arn"]}
    # An event the rule cannot deliver, and one whose invocation keeps failing, both land in the queue
    assert rule["RetryPolicy"] == {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400}
    assert rule["DeadLetterConfig"]["Arn"] == queue
    assert reconcile["EventInvokeConfig"]["MaximumRetryAttempts"] == 2
    assert reconcile["EventInvokeConfig"]["DestinationConfig"]["OnFailure"] == {"Type": "SQS", "Destination": queue}
    # And only that rule may send to it
    [statement] = props("ReconcileDeadLetterQueuePolicy")["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    # The rule SAM generates for the event (unnamed, so that a long stack name cannot overflow it)
    assert "RuleName" not in rule
    assert statement["Condition"]["ArnEquals"]["aws:SourceArn"] == {
        "Fn::GetAtt": ["ReconcileRunFunctionExecutionEndedBadly", "Arn"]
    }


def test_backstop_has_time_for_its_worst_case():
    # Stopping a job (90 s), a whole log (CollectLogs' budget) and another sender's claim (120 s) in one run
    reconcile, collect = props("ReconcileRunFunction"), props("CollectLogsFunction")
    assert reconcile["Timeout"] == 900 == collect["Timeout"]
    assert reconcile["MemorySize"] >= collect["MemorySize"]


# --- alarms ------------------------------------------------------------------------------------------------


def alarm_on(namespace: str, metric: str, dimension: tuple[str, Any]) -> dict[str, Any]:
    [alarm] = [
        props(logical)
        for logical, resource in RESOURCES.items()
        if resource["Type"] == "AWS::CloudWatch::Alarm"
        and props(logical)["Namespace"] == namespace
        and props(logical)["MetricName"] == metric
        and props(logical)["Dimensions"] == [{"Name": dimension[0], "Value": dimension[1]}]
    ]
    return alarm


def fires_on_first(alarm: dict[str, Any]) -> bool:
    """One datapoint above zero (one message, one failure) sets the alarm off; quiet periods do not."""
    return (
        alarm["ComparisonOperator"] == "GreaterThanThreshold"
        and alarm["Threshold"] == 0
        and alarm["EvaluationPeriods"] == 1
        and alarm["TreatMissingData"] == "notBreaching"
    )


def test_a_message_in_either_dead_letter_queue_alerts_the_team_topic():
    for queue in ("TriggerDeadLetterQueue", "ReconcileDeadLetterQueue"):
        alarm = alarm_on(
            "AWS/SQS", "ApproximateNumberOfMessagesVisible", ("QueueName", {"Fn::GetAtt": [queue, "QueueName"]})
        )
        assert fires_on_first(alarm), queue
        assert alarm["AlarmActions"] == [{"Ref": "NoticeTopic"}]


def test_a_run_failed_internally_alerts_the_team_topic():
    from nsclient_common.alerts import INTERNAL_FAILURE_METRIC
    from nsclient_common.observability import METRICS_NAMESPACE, METRICS_SERVICE

    # The metric the functions emit: the observability module's namespace and service dimension
    alarm = alarm_on(METRICS_NAMESPACE, INTERNAL_FAILURE_METRIC, ("service", METRICS_SERVICE))
    assert fires_on_first(alarm) and alarm["Statistic"] == "Sum"
    assert alarm["AlarmActions"] == [{"Ref": "NoticeTopic"}]


def test_alarms_can_publish_to_the_encrypted_topic():
    # A customer-managed key (CloudWatch cannot use the AWS-managed alias/aws/sns), rotated
    assert props("NoticeTopic")["KmsMasterKeyId"] == {"Ref": "NoticeTopicKey"}
    key = props("NoticeTopicKey")
    assert key["EnableKeyRotation"] is True
    statements = key["KeyPolicy"]["Statement"]
    [cloudwatch] = [s for s in statements if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}]
    assert set(cloudwatch["Action"]) == {"kms:GenerateDataKey*", "kms:Decrypt"}
    assert cloudwatch["Condition"]["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}


def test_functions_that_publish_notices_may_use_the_topic_key():
    for function in ("NotifyRunFunction", "ReconcileRunFunction"):
        statements = [s for p in props(function)["Policies"] if "Statement" in p for s in p["Statement"]]
        grants = [s for s in statements if s["Resource"] == {"Fn::GetAtt": ["NoticeTopicKey", "Arn"]}]
        assert [set(s["Action"]) for s in grants] == [{"kms:GenerateDataKey", "kms:Decrypt"}], function


# --- state machine -----------------------------------------------------------------------------------------


def test_state_machine_substitutions_match_definition_placeholders():
    state_machine = props("RunBuildStateMachine")
    assert state_machine["DefinitionUri"] == "statemachine/run_build.asl.yaml"
    placeholders = set(re.findall(r"\$\{([^}]+)\}", STATE_MACHINE_DEFINITION.read_text()))
    assert set(state_machine["DefinitionSubstitutions"]) == placeholders


def test_state_machine_logs_errors_with_retention():
    state_machine = props("RunBuildStateMachine")
    assert state_machine["Type"] == "STANDARD"
    assert state_machine["Logging"]["Level"] == "ERROR"
    destination = state_machine["Logging"]["Destinations"][0]["CloudWatchLogsLogGroup"]["LogGroupArn"]
    assert destination == {"Fn::GetAtt": ["StateMachineLogGroup", "Arn"]}
    assert default_of(props("StateMachineLogGroup")["RetentionInDays"]) == 30


# --- AWS Batch ---------------------------------------------------------------------------------------------


def test_batch_resources_are_only_created_on_request():
    assert TPL["Conditions"]["CreateBatch"] == {"Fn::Equals": [{"Ref": "CreateBatchEnvironment"}, "true"]}
    assert PARAMETERS["CreateBatchEnvironment"]["Default"] == "false"
    for logical_id in (
        "JobRole",
        "InstanceRole",
        "InstanceProfile",
        "BatchLaunchTemplate",
        "ComputeEnvironment",
        "BatchJobQueue",
        "BatchJobDefinition",
        "BatchJobLogGroup",
        "BatchSecurityGroup",
    ):
        assert RESOURCES[logical_id].get("Condition") == "CreateBatch", logical_id


def test_job_definition_retries_once_on_host_loss_and_times_out_after_4_hours():
    job = props("BatchJobDefinition")
    assert job["RetryStrategy"]["Attempts"] == 2
    evaluate = job["RetryStrategy"]["EvaluateOnExit"]
    assert evaluate[0] == {"OnStatusReason": "Host EC2*", "Action": "RETRY"}
    assert evaluate[-1] == {"OnReason": "*", "Action": "EXIT"}
    assert job["Timeout"]["AttemptDurationSeconds"] == {"Ref": "JobTimeoutSeconds"}
    assert PARAMETERS["JobTimeoutSeconds"]["Default"] == 14400
    assert job["ContainerProperties"]["Command"] == []
    assert job["ContainerProperties"]["JobRoleArn"] == {"Fn::GetAtt": ["JobRole", "Arn"]}


def test_compute_environment_scales_to_zero_with_a_big_root_volume():
    resources = props("ComputeEnvironment")["ComputeResources"]
    assert resources["MinvCpus"] == 0
    assert resources["LaunchTemplate"]["Version"] == {"Fn::GetAtt": ["BatchLaunchTemplate", "LatestVersionNumber"]}
    volume = props("BatchLaunchTemplate")["LaunchTemplateData"]["BlockDeviceMappings"][0]
    assert volume["DeviceName"] == "/dev/xvda"
    assert volume["Ebs"]["VolumeType"] == "gp3"
    assert default_of(volume["Ebs"]["VolumeSize"]) == 200


def test_job_queue_cancels_jobs_stuck_runnable():
    # Batch accepts only its own blocking reasons here: one action for each.
    actions = props("BatchJobQueue")["JobStateTimeLimitActions"]
    assert {a["Reason"] for a in actions} == {
        "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE",
        "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT",
        "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY",
    }
    for action in actions:
        assert action["State"] == "RUNNABLE"
        assert action["Action"] == "CANCEL"
        assert default_of(action["MaxTimeSeconds"]) == 3600


def test_stack_never_creates_the_accounts_batch_log_group():
    # /aws/batch/job exists wherever Batch has run: creating it fails the stack, deleting it erases others' logs.
    for logical_id, resource in RESOURCES.items():
        if resource["Type"] == "AWS::Logs::LogGroup":
            assert "/aws/batch/job" not in str(resource["Properties"].get("LogGroupName", "")), logical_id
    group = props("BatchJobLogGroup")
    assert group["LogGroupName"] == {"Fn::Sub": "/aws/batch/nsclient-${AWS::StackName}"}
    assert default_of(group["RetentionInDays"]) == 30


def test_created_job_definition_logs_to_the_stacks_group():
    logging = props("BatchJobDefinition")["ContainerProperties"]["LogConfiguration"]
    assert logging == {"LogDriver": "awslogs", "Options": {"awslogs-group": {"Ref": "BatchJobLogGroup"}}}


def test_job_log_readers_may_read_the_group_of_either_shape():
    # Only the streams of the job log group: the created one, or Batch's default an existing setup logs to.
    group = {"Fn::If": ["CreateBatch", {"Ref": "BatchJobLogGroup"}, "/aws/batch/job"]}
    streams = {
        "Fn::Sub": [
            "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:${Group}:log-stream:*",
            {"Group": group},
        ]
    }
    readers = {
        "CollectLogsFunction": props("CollectLogsFunction")["Policies"][0]["Statement"],
        "ReconcileRunFunction": props("ReconcileRunFunction")["Policies"][1]["Statement"],
        "NsclientAdminPolicy": props("NsclientAdminPolicy")["PolicyDocument"]["Statement"],
    }
    for reader, statements in readers.items():
        reads = [s for s in statements if "logs:GetLogEvents" in s["Action"]]
        assert [s["Resource"] for s in reads] == [streams], reader


def test_a_person_reads_only_the_live_log_streams_of_their_own_job_definitions():
    # Batch names a stream <definition>/default/<task>, and a person's jobs run with their own copy of the
    # definition, <definition>_<their IAM unique id>_... (nsclient_common.jobdefinition).
    from nsclient_common.jobdefinition import derived_name

    statements = props("NsclientUserPolicy")["PolicyDocument"]["Statement"]
    (reads,) = [s for s in statements if "logs:GetLogEvents" in s["Action"]]
    created, existing = reads["Resource"]["Fn::If"][1:]
    assert created["Fn::Sub"][0].endswith(
        ":log-group:${BatchJobLogGroup}:log-stream:nextstrain-job-${StackUuid}_${!aws:userid}_*"
    )
    assert existing["Fn::Sub"].endswith(":log-group:/aws/batch/job:log-stream:${JobDefinition}_${!aws:userid}_*")
    assert derived_name("nextstrain-job", "AIDAEXAMPLEUSER000001", 3, None).startswith(
        "nextstrain-job_AIDAEXAMPLEUSER000001_"
    )


def test_launch_template_keeps_jobs_from_the_instance_metadata_service():
    # Batch's EC2 jobs use host networking, where the hop limit does not apply: the user data drops packets to
    # IMDS (IPv4 and IPv6) from ECS's task cgroups, at every boot, as a MIME part Batch accepts.
    import email

    user_data = props("BatchLaunchTemplate")["LaunchTemplateData"]["UserData"]["Fn::Base64"]
    message = email.message_from_string(user_data)
    assert message.is_multipart() and message.get_content_type() == "multipart/mixed"
    (part,) = message.get_payload()
    assert part.get_content_type() == "text/cloud-boothook"
    script = part.get_payload()
    assert script.startswith("#!/bin/bash\n")
    assert "169.254.169.254/32" in script and "fd00:ec2::254/128" in script
    assert "-I OUTPUT 1 -d $imds -m cgroup --path ecstasks -j DROP" in script
    assert "mkdir -p /sys/fs/cgroup/ecstasks" in script  # the cgroup match needs the path to exist
    assert "169.254.170.2" not in script.split("\n", 2)[2]  # the job role's credentials endpoint stays open
    rendered = subprocess.run(["bash", "-n"], input=script, text=True, capture_output=True, check=False)
    assert rendered.returncode == 0, rendered.stderr


def test_launch_template_requires_imdsv2_with_hop_limit_1():
    options = props("BatchLaunchTemplate")["LaunchTemplateData"]["MetadataOptions"]
    assert options["HttpTokens"] == "required"
    assert options["HttpPutResponseHopLimit"] == 1


def test_compute_environment_has_its_own_outbound_only_security_group():
    group = props("BatchSecurityGroup")
    assert group["VpcId"] == {"Ref": "VpcId"}
    assert "SecurityGroupIngress" not in group
    assert group["SecurityGroupEgress"][0]["CidrIp"] == "0.0.0.0/0"
    chosen = props("ComputeEnvironment")["ComputeResources"]["SecurityGroupIds"]["Fn::If"]
    assert chosen[0] == "HasExtraSecurityGroups"
    assert chosen[2] == [{"Ref": "BatchSecurityGroup"}]
    assert {"Ref": "BatchSecurityGroup"} in chosen[1]["Fn::Split"][1]["Fn::Join"][1]
    assertions = TPL["Rules"]["BatchNeedsNetwork"]["Assertions"]
    required = [a["AssertDescription"].split()[0] for a in assertions]
    assert required == ["SubnetIds", "VpcId"]


# --- outputs and lint --------------------------------------------------------------------------------------


def test_outputs_present():
    assert set(TPL["Outputs"]) >= {
        "BucketName",
        "StateMachineArn",
        "TopicArn",
        "JobQueueName",
        "JobDefinitionName",
        "UsersGroupName",
        "TriggerDeadLetterQueueUrl",
        "ReconcileDeadLetterQueueUrl",
    }


def test_template_passes_cfn_lint():
    from cfnlint.api import lint_file

    matches = lint_file(TEMPLATE)
    assert matches == [], "\n".join(str(match) for match in matches)
