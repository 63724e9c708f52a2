"""Settings: option > NEXTSTRAIN_AWS_BATCH_* / NSCLIENT_* > ~/.nextstrain/config > default, as the
Nextstrain CLI reads them; `nsclient config` shows each value and its source; `setup` writes ours, and
only ours: the Nextstrain CLI's [aws-batch] section is read for cpus and memory and never changed."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from nsclient import config
from tests.client.helpers import Cli, aws_env, build_folder, environ
from tests.support import SNAKEFILE_OK

if TYPE_CHECKING:
    from pathlib import Path

    from tests.support import Backend

# (section, key) -> its environment variable: the Nextstrain CLI's resources, and nsclient's own names.
ENV = {
    ("aws-batch", "cpus"): "NEXTSTRAIN_AWS_BATCH_CPUS",
    ("aws-batch", "memory"): "NEXTSTRAIN_AWS_BATCH_MEMORY",
    ("nsclient", "bucket"): "NSCLIENT_BUCKET",
    ("nsclient", "queue"): "NSCLIENT_QUEUE",
}
DEFAULTS = {("nsclient", "queue"): "nextstrain-job-queue"}
MEMORY_HINT = "use a number of MiB or a quantity such as 14GiB, 7400MiB or 14000MB"
KEYS = [pytest.param(key, id=f"{key[0]}-{key[1]}") for key in sorted(ENV)]

# (option, environment variable, the config file) -> which one wins; None is absent.
PRECEDENCE = [
    pytest.param("from-option", "from-env", "from-config", "option", id="option-beats-env-and-config"),
    pytest.param("from-option", None, "from-config", "option", id="option-beats-config"),
    pytest.param(None, "from-env", "from-config", "env", id="env-beats-config"),
    pytest.param(None, "from-env", None, "env", id="env-alone"),
    pytest.param(None, "", "from-config", "config", id="empty-env-is-unset"),
    pytest.param(None, None, "from-config", "config", id="config-alone"),
    pytest.param("", "", "", "default", id="all-empty-is-default"),
    pytest.param(None, None, None, "default", id="nothing-set"),
]


def setting(result_json: dict[str, Any], section: str, key: str) -> dict[str, Any]:
    rows = [row for row in result_json["settings"] if (row["section"], row["key"]) == (section, key)]
    assert len(rows) == 1
    return rows[0]


def expected(winner: str, key: tuple[str, str], cli: Cli, value: str | None) -> tuple[str | None, str]:
    """(value, source) as `nsclient config` reports them."""
    if winner == "env":
        return value, f"env {ENV[key]}"
    if winner == "config":
        return value, f"config {cli.config_file}"
    if winner == "option":
        return value, "option"
    return DEFAULTS.get(key), "default" if key in DEFAULTS else "unset"


def write_aws_batch(cli: Cli, values: dict[str, str]) -> None:
    write_section(cli, "aws-batch", values)


def write_section(cli: Cli, section: str, values: dict[str, str]) -> None:
    cli.write_config(f"[{section}]\n" + "".join(f"{k} = {v}\n" for k, v in values.items()))


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize(("option", "env", "configured", "winner"), PRECEDENCE)
def test_resolve_takes_the_first_layer_that_has_a_value(
    key: tuple[str, str], option: str | None, env: str | None, configured: str | None, winner: str, cli: Cli
) -> None:
    section, name = key
    if configured is not None:
        write_section(cli, section, {name: configured})
    values = {"option": option, "env": env, "config": configured}

    with_env = {ENV[key]: env} if env is not None else {}
    with environ({**cli.env, **with_env}):
        resolved = config.resolve(section, name, option)

    assert (resolved.value, resolved.source) == expected(winner, key, cli, values.get(winner))


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize(
    ("option", "env", "configured", "winner"), [p for p in PRECEDENCE if p.values[0] is None or p.values[0] == ""]
)
def test_config_json_reports_value_and_source(
    key: tuple[str, str], option: str | None, env: str | None, configured: str | None, winner: str, cli: Cli
) -> None:
    del option  # `nsclient config` has no option for these; push's --cpus/--memory are below
    section, name = key
    if configured is not None:
        write_section(cli, section, {name: configured})

    result = cli("config", "--json", env={ENV[key]: env} if env is not None else {})

    assert result.code == 0, result.err
    row = setting(result.json(), section, name)
    values = {"env": env, "config": configured}
    assert (row["value"], row["source"]) == expected(winner, key, cli, values.get(winner))


def test_config_text_says_where_each_value_comes_from_and_what_would_override_it(cli: Cli) -> None:
    write_section(cli, "nsclient", {"queue": "my-queue"})

    result = cli.process("config", env={"NEXTSTRAIN_AWS_BATCH_CPUS": "6", "NSCLIENT_NOTIFY": "me@example.org"})

    assert result.code == 0, result.err
    blocks = result.out.split("\n  [")
    assert blocks[0].splitlines() == [f"Config file: {cli.config_file}", "Backend in use: local"]
    shown = {tuple(block.split()[:2]): block.splitlines() for block in blocks[1:]}
    assert [line.split() for line in shown["nsclient]", "queue"]] == [
        ["nsclient]", "queue", "my-queue"],
        ["from:", "[nsclient]", "queue", "in", str(cli.config_file)],
        ["overridden", "by:", "NSCLIENT_QUEUE"],
    ]
    assert shown["aws-batch]", "cpus"][1:] == [
        "      from: environment variable NEXTSTRAIN_AWS_BATCH_CPUS",
        "      overridden by: push --cpus",
    ]
    assert shown["nsclient]", "notify"][0].split()[2] == "me@example.org"
    assert ("nsclient]", "job") not in shown  # nothing reads a job definition from the config
    assert shown["aws-batch]", "memory"][1:] == [
        "      from: not set",
        f"      set by: push --memory, NEXTSTRAIN_AWS_BATCH_MEMORY, [aws-batch] memory in {cli.config_file}",
    ]


def test_config_without_a_config_file_shows_none_as_a_source(cli: Cli) -> None:
    result = cli.process("config", "--json")

    assert result.code == 0, result.err
    shown = result.json()
    assert shown["config_file"] is None
    assert not cli.config_file.exists()
    assert {row["source"] for row in shown["settings"]} <= {"default", "unset"}
    assert "does not exist" in cli.process("config").out.splitlines()[0]


# --- backend choice -------------------------------------------------------------------------------

STATE_MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:nsclient-run-build"


@pytest.mark.parametrize(
    ("option", "env", "configured", "extra_config", "extra_env", "kind", "source"),
    [
        pytest.param("local", "aws", "aws", True, {}, "local", "option", id="option-beats-all"),
        pytest.param("aws", None, None, False, {}, "aws", "option", id="option-aws-without-stack"),
        pytest.param(None, "local", "aws", True, {}, "local", "env", id="env-beats-config"),
        pytest.param(None, "", "aws", False, {}, "aws", "config", id="empty-env-is-unset"),
        pytest.param(None, None, "local", True, {}, "local", "config", id="config-beats-configured-stack"),
        pytest.param(None, None, None, True, {}, "aws", "unset", id="state-machine-configured-means-aws"),
        pytest.param(None, None, None, False, {"NSCLIENT_STACK": "nsclient"}, "aws", "unset", id="stack-in-env"),
        pytest.param(None, None, None, False, {}, "local", "unset", id="nothing-means-local"),
    ],
)
def test_backend_choice_follows_precedence(
    option: str | None,
    env: str | None,
    configured: str | None,
    extra_config: bool,
    extra_env: dict[str, str],
    kind: str,
    source: str,
    cli: Cli,
) -> None:
    lines = ["[nsclient]"]
    if configured is not None:
        lines.append(f"backend = {configured}")
    if extra_config:
        lines.append(f"state-machine = {STATE_MACHINE}")
    cli.write_config("\n".join(lines) + "\n")
    args = ["config", "--json"] + (["--backend", option] if option else [])

    result = cli(*args, env={**({"NSCLIENT_BACKEND": env} if env is not None else {}), **extra_env})

    assert result.code == 0, result.err
    shown = result.json()
    assert shown["backend"] == kind
    row = setting(shown, "nsclient", "backend")
    assert row["source"].split(" ")[0] == source


def test_unknown_backend_in_env_is_one_clear_line(cli: Cli) -> None:
    result = cli("status", "20261125T093000Z-zika-1a2b3c4d5e", env={"NSCLIENT_BACKEND": "cloud"})

    assert result.code == 1
    assert result.error_lines == ["Error: Unknown backend 'cloud' (from env NSCLIENT_BACKEND): use one of local, aws."]


def test_unknown_backend_option_is_a_usage_error(cli: Cli) -> None:
    result = cli("list", "--backend", "cloud")

    assert result.code == 2
    assert "invalid choice: 'cloud'" in result.err


# --- push's cpus and memory, as uploaded --------------------------------------------------------


def pushed_metadata(cli: Cli, backend: Backend, bucket: str, folder: Path, *args: str, env: Any = None) -> dict:
    result = cli("push", str(folder), "--backend", "aws", *args, env=env)
    assert result.code == 0, result.err
    key = backend.upload_key(result.out.strip(), bucket)
    metadata: dict[str, str] = backend.client("s3").head_object(Bucket=bucket, Key=key)["Metadata"]
    return metadata


@pytest.mark.parametrize(
    ("option", "env", "configured", "cpus"),
    [
        pytest.param("8", "4", "2", "8", id="option"),
        pytest.param(None, "4", "2", "4", id="env"),
        pytest.param(None, "", "2", "2", id="empty-env-is-unset"),
        pytest.param(None, None, "2", "2", id="config"),
        pytest.param(None, None, None, None, id="job-definition-default"),
    ],
)
def test_push_uploads_cpus_from_the_first_layer_that_has_them(
    option: str | None,
    env: str | None,
    configured: str | None,
    cpus: str | None,
    quiet_cli: Cli,
    local_backend: Backend,
    quiet_bucket: str,
    tmp_path: Path,
) -> None:
    text = quiet_cli.config_file.read_text() + (f"\n[aws-batch]\ncpus = {configured}\n" if configured else "")
    quiet_cli.write_config(text)
    folder = build_folder(tmp_path / "cpus-build", SNAKEFILE_OK)
    args = ["--cpus", option] if option else []

    metadata = pushed_metadata(
        quiet_cli, local_backend, quiet_bucket, folder, *args, env={"NEXTSTRAIN_AWS_BATCH_CPUS": env}
    )

    assert metadata.get("cpus") == cpus


@pytest.mark.parametrize(
    ("layer", "text", "mib"),
    [
        pytest.param("option", "14GiB", "14336", id="GiB"),
        pytest.param("option", "14gib", "14336", id="gib-lowercase"),
        pytest.param("option", "14000MB", "13351", id="decimal-MB-rounds-down"),
        pytest.param("option", "3000", "3000", id="plain-MiB"),
        pytest.param("env", "14gib", "14336", id="env-gib"),
        pytest.param("config", "14000MB", "13351", id="config-MB"),
        pytest.param("config", "7400", "7400", id="config-plain-MiB"),
    ],
)
def test_push_uploads_memory_in_mib_from_every_form(
    layer: str, text: str, mib: str, quiet_cli: Cli, local_backend: Backend, quiet_bucket: str, tmp_path: Path
) -> None:
    if layer == "config":
        quiet_cli.write_config(quiet_cli.config_file.read_text() + f"\n[aws-batch]\nmemory = {text}\n")
    folder = build_folder(tmp_path / "memory-build", SNAKEFILE_OK)
    args = ["--memory", text] if layer == "option" else []
    env = {"NEXTSTRAIN_AWS_BATCH_MEMORY": text} if layer == "env" else {}

    metadata = pushed_metadata(quiet_cli, local_backend, quiet_bucket, folder, *args, env=env)

    assert metadata["memory"] == mib


@pytest.mark.parametrize(
    ("layer", "source", "code"),
    [
        ("option", "argument --memory: ", 2),
        ("env", "(from environment variable NEXTSTRAIN_AWS_BATCH_MEMORY)", 1),
        ("config", "(from [aws-batch] memory in ", 1),
    ],
)
def test_push_refuses_unreadable_memory_in_one_line(
    layer: str, source: str, code: int, cli: Cli, tmp_path: Path
) -> None:
    if layer == "config":
        write_aws_batch(cli, {"memory": "lots"})
    folder = build_folder(tmp_path / "build", SNAKEFILE_OK)
    args = ["--memory", "lots"] if layer == "option" else []
    env = {"NEXTSTRAIN_AWS_BATCH_MEMORY": "lots"} if layer == "env" else {}

    result = cli("push", str(folder), *args, env=env)

    assert result.code == code
    if code == 2:  # a usage error: argparse's usage line, then its message
        assert result.error_lines[-1].endswith("argument --memory: can't read memory 'lots': " + MEMORY_HINT)
        return
    assert len(result.error_lines) == 1
    assert result.error_lines[0].startswith("Error: can't read memory 'lots'")
    assert source in result.error_lines[0]
    assert "Traceback" not in result.err
    assert result.out == ""


def test_push_refuses_bad_cpus_in_one_line(cli: Cli, tmp_path: Path) -> None:
    folder = build_folder(tmp_path / "build", SNAKEFILE_OK)

    result = cli("push", str(folder), env={"NEXTSTRAIN_AWS_BATCH_CPUS": "many"})

    assert result.code == 1
    assert result.error_lines == [
        "Error: cpus must be a whole number of at least 1, not 'many' "
        "(from environment variable NEXTSTRAIN_AWS_BATCH_CPUS)."
    ]


def test_unreadable_memory_in_a_real_process_has_no_traceback(cli: Cli, tmp_path: Path) -> None:
    folder = build_folder(tmp_path / "build", SNAKEFILE_OK)

    result = cli.process("push", str(folder), "--memory", "14 GB of RAM")

    assert result.code == 2
    assert "argument --memory: can't read memory '14 GB of RAM'" in result.error_lines[-1]
    assert "Traceback" not in result.err


# --- an existing Nextstrain CLI config ---------------------------------------------------------

NEXTSTRAIN_CLI_CONFIG = """\
# The team's `nextstrain build --aws-batch` settings.
[core]
runner = aws-batch

[aws-batch]
; the Nextstrain CLI's jobs bucket, not nsclient's builds bucket
s3-bucket = team-nextstrain-jobs
job = nextstrain-job
queue = nextstrain-job-queue
cpus = 4
memory = 7GiB

[docker]
image = nextstrain/base:latest
"""


def test_an_existing_nextstrain_cli_config_lends_its_resources_but_not_its_bucket(
    cli: Cli, local_backend: Backend, quiet_bucket: str, tmp_path: Path
) -> None:
    text = NEXTSTRAIN_CLI_CONFIG + f"\n[nsclient]\nbucket = {quiet_bucket}\n"
    cli.write_config(text)
    cli.env.update(aws_env(local_backend, local_backend.admin))  # the quiet bucket is not the stack's

    shown = cli("config", "--json")
    metadata = pushed_metadata(cli, local_backend, quiet_bucket, build_folder(tmp_path / "b", SNAKEFILE_OK))

    assert shown.code == 0
    settings = shown.json()
    from_config = {("aws-batch", "cpus"): "4", ("aws-batch", "memory"): "7GiB", ("nsclient", "bucket"): quiet_bucket}
    for (section, key), value in from_config.items():
        row = setting(settings, section, key)
        assert (row["value"], row["source"]) == (value, f"config {cli.config_file}")
    assert not [row for row in settings["settings"] if row["key"] == "s3-bucket"]
    assert (metadata["cpus"], metadata["memory"]) == ("4", "7168")
    assert cli.config_file.read_text() == text


def test_the_nextstrain_cli_bucket_alone_is_not_taken_as_the_builds_bucket(cli: Cli, tmp_path: Path) -> None:
    cli.write_config(NEXTSTRAIN_CLI_CONFIG)

    result = cli("push", str(build_folder(tmp_path / "b", SNAKEFILE_OK)), "--backend", "aws")

    assert result.code == 1
    assert "No builds bucket is configured for the aws backend" in result.err
    assert "nsclient setup --stack NAME" in result.err
    assert cli.config_file.read_text() == NEXTSTRAIN_CLI_CONFIG


def test_nextstrain_config_variable_names_the_file(cli: Cli, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere.ini"
    elsewhere.write_text("[aws-batch]\ncpus = 12\n")

    result = cli("config", "--json", env={"NEXTSTRAIN_CONFIG": str(elsewhere)})

    assert result.json()["config_file"] == str(elsewhere)
    assert setting(result.json(), "aws-batch", "cpus")["value"] == "12"


# --- setup --------------------------------------------------------------------------------------

STACK_OUTPUTS = {
    "BucketName": "team-builds",
    "StateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:team-run-build",
    "TopicArn": "arn:aws:sns:us-east-1:123456789012:team-notices",
    "JobQueueName": "team-queue",
    "JobDefinitionName": "team-job",
}


def create_stack(backend: Backend, name: str, outputs: dict[str, str]) -> None:
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {"Notices": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": f"{name}-notices"}}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    backend.client("cloudformation").create_stack(StackName=name, TemplateBody=json.dumps(template))


def our_section(stack: str) -> dict[str, str]:
    """[nsclient] as setup writes it for a stack with STACK_OUTPUTS."""
    return {
        "backend": "aws",
        "stack": stack,
        "region": "us-east-1",
        "bucket": "team-builds",
        "queue": "team-queue",
        "state-machine": STACK_OUTPUTS["StateMachineArn"],
        "topic": STACK_OUTPUTS["TopicArn"],
    }


def section_text(text: str, section: str) -> str:
    """The lines of one section as written, from its header up to the next header."""
    lines = text.splitlines(keepends=True)
    start = lines.index(f"[{section}]\n")
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("[")), len(lines))
    return "".join(lines[start:end])


def test_setup_in_a_real_process_leaves_the_nextstrain_cli_settings_byte_for_byte(
    cli: Cli, local_backend: Backend
) -> None:
    cli.env.update(aws_env(local_backend, local_backend.admin))  # who deployed the stack sets it up
    create_stack(local_backend, "team-cli-stack", STACK_OUTPUTS)
    before = NEXTSTRAIN_CLI_CONFIG + "\n[nsclient]\n# who hears about runs\nnotify = me@example.org\n"
    cli.write_config(before)

    result = cli.process(
        "setup", "--stack", "team-cli-stack", "--region", "us-east-1", "--endpoint-url", local_backend.info.endpoint_url
    )

    assert result.code == 0, result.err
    after = cli.config_file.read_text()
    assert after.startswith(before.split("[nsclient]")[0])  # comments, [core], [aws-batch], [docker]
    assert section_text(after, "aws-batch") == section_text(before, "aws-batch")
    assert "s3-bucket = team-nextstrain-jobs\n" in after and "team-builds" not in section_text(after, "aws-batch")
    ours = config.read_config(cli.config_file)["nsclient"]
    assert dict(ours) == {"notify": "me@example.org", **our_section("team-cli-stack")}
    assert "# who hears about runs\n" in section_text(after, "nsclient")
    shown = cli("config", "--json").json()
    assert setting(shown, "nsclient", "bucket")["value"] == "team-builds"
    assert setting(shown, "aws-batch", "cpus")["value"] == "4"


def test_setup_writes_the_stack_outputs_keeping_the_rest(cli: Cli, local_backend: Backend) -> None:
    cli.env.update(aws_env(local_backend, local_backend.admin))  # who deployed the stack sets it up
    create_stack(local_backend, "team-stack", STACK_OUTPUTS)
    cli.write_config("[core]\nrunner = docker\n\n[aws-batch]\ncpus = 4\nqueue = old-queue\n")

    result = cli(
        "setup", "--stack", "team-stack", "--region", "us-east-1", "--endpoint-url", local_backend.info.endpoint_url
    )

    assert result.code == 0, result.err
    written = config.read_config(cli.config_file)
    assert {k: dict(written[k]) for k in written.sections()} == {
        "core": {"runner": "docker"},
        "aws-batch": {"cpus": "4", "queue": "old-queue"},
        "nsclient": our_section("team-stack"),
    }
    assert f"Saved to {cli.config_file}" in result.err
    assert cli("config", "--json").json()["backend"] == "aws"


def test_setup_refuses_a_stack_without_nsclient_outputs(cli: Cli, local_backend: Backend) -> None:
    cli.env.update(aws_env(local_backend, local_backend.admin))  # who deployed the stack sets it up
    create_stack(local_backend, "other-stack", {"Something": "else"})

    result = cli("setup", "--stack", "other-stack", "--endpoint-url", local_backend.info.endpoint_url)

    assert result.code == 1
    assert result.error_lines == [
        "Error: Stack 'other-stack' has no BucketName, StateMachineArn output: is it an nsclient stack?"
    ]
    assert not cli.config_file.exists()


def test_setup_of_a_missing_stack_is_one_clear_line(cli: Cli, local_backend: Backend) -> None:
    cli.env.update(aws_env(local_backend, local_backend.admin))  # who deployed the stack sets it up
    result = cli("setup", "--stack", "no-such-stack", "--endpoint-url", local_backend.info.endpoint_url)

    assert result.code == 1
    assert len(result.error_lines) == 1
    assert result.error_lines[0].startswith("Error: Can't read stack 'no-such-stack' in us-east-1")
    assert "sam deploy --guided" in result.error_lines[0]


def test_aws_backend_without_a_bucket_says_how_to_set_it_up(cli: Cli) -> None:
    result = cli("list", "--backend", "aws")

    assert result.code == 1
    assert "nsclient setup --stack NAME" in result.err
    assert "Traceback" not in result.err
