"""A function's settings are checked once, from its environment: the bucket is required, and a bad value
is named in one sentence rather than passed on as "" or a pydantic report."""

from __future__ import annotations

import pytest

from nsclient_common.settings import Settings, SettingsError, current_settings


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


def test_settings_are_checked_once_per_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BUCKET_NAME", "builds")
    first = current_settings()
    assert first.bucket == "builds"
    assert current_settings() is first  # a warm invocation reuses what its cold start checked
    monkeypatch.setenv("BUCKET_NAME", "another")
    assert current_settings().bucket == "another"
    monkeypatch.setenv("BUCKET_NAME", "")
    with pytest.raises(SettingsError):
        current_settings()
