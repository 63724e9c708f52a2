"""A function's settings are checked once, from its environment: the bucket is required, and a bad value
is named in one sentence rather than passed on as "" or a pydantic report."""

from __future__ import annotations

import pytest

from nsclient_common.settings import Settings, SettingsError, cold_start_settings


@pytest.mark.parametrize("environment", [{}, {"BUCKET_NAME": ""}, {"TOPIC_ARN": "arn:aws:sns:us-east-1:1:t"}])
def test_a_function_without_its_bucket_is_refused_in_one_sentence(environment: dict[str, str]) -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_env(environment)
    assert str(refused.value) == "BUCKET_NAME is not set: the function needs the name of the stack's builds bucket."


def test_a_bad_limit_names_its_variable() -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({"BUCKET_NAME": "builds", "MAX_CPUS": "lots"})
    assert str(refused.value) == "MAX_CPUS in the function's environment is not valid."


def test_empty_variables_take_the_defaults() -> None:
    settings = Settings.from_env({"BUCKET_NAME": "builds", "MAX_CPUS": "", "JOB_QUEUE": "", "ON_DEMAND_JOB_QUEUE": ""})
    assert (settings.bucket, settings.limits.max_cpus, settings.job_queue) == ("builds", 64, "nextstrain-job-queue")


def test_settings_are_read_at_the_first_invocation_and_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BUCKET_NAME", raising=False)
    settings = cold_start_settings()  # a handler module's import: nothing is read yet
    monkeypatch.setenv("BUCKET_NAME", "builds")
    assert settings().bucket == "builds"
    monkeypatch.setenv("BUCKET_NAME", "another")
    assert settings().bucket == "builds"  # a warm container keeps what its cold start read
