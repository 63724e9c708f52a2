"""Which log group a job's log is read from: the one its description names, else Batch's default."""

from __future__ import annotations

from nsclient_common.describedjob import facts_from_description, log_group_of


def test_a_created_definitions_group_is_read_from_the_step_functions_description():
    # batch:submitJob.sync hands over the description in PascalCase; option names keep their spelling.
    job = {
        "JobId": "j-1",
        "Container": {
            "LogStreamName": "nextstrain-job/default/abc",
            "LogConfiguration": {"LogDriver": "awslogs", "Options": {"awslogs-group": "/aws/batch/nsclient-prod"}},
        },
    }
    facts = facts_from_description(job)
    assert (facts.log_group, facts.log_stream) == ("/aws/batch/nsclient-prod", "nextstrain-job/default/abc")


def test_a_group_is_read_from_the_sdk_description():
    job = {"container": {"logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "/team/jobs"}}}}
    assert log_group_of(job) == "/team/jobs"


def test_an_existing_definition_without_log_configuration_logs_to_batchs_default_group():
    assert log_group_of({"container": {"logStreamName": "nextstrain-job/default/abc"}}) == "/aws/batch/job"
    assert facts_from_description({"jobId": "j-2"}).log_group == "/aws/batch/job"


def test_another_log_driver_leaves_the_default_group():
    job = {"container": {"logConfiguration": {"logDriver": "splunk", "options": {"awslogs-group": "/ignored"}}}}
    assert log_group_of(job) == "/aws/batch/job"


def test_the_resources_a_job_ran_with_are_read_from_either_shape():
    # As Batch describes a job given resourceRequirements (its own, or its definition's)
    required = {
        "jobId": "j",
        "container": {"resourceRequirements": [{"type": "VCPU", "value": "4"}, {"type": "MEMORY", "value": "8192"}]},
    }
    assert (facts_from_description(required).vcpus, facts_from_description(required).memory_mib) == (4, 8192)
    # A definition made with the older vcpus and memory fields
    older = {"jobId": "j", "container": {"vcpus": 2, "memory": 3500}}
    assert (facts_from_description(older).vcpus, facts_from_description(older).memory_mib) == (2, 3500)
    assert facts_from_description({"jobId": "j", "container": {}}).vcpus is None
