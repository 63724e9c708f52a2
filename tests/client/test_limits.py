"""A request over the deployment's limits is refused before anything is uploaded, in one sentence: the
local backend publishes its limits with its connection facts, a deployed stack with its outputs (saved
by `nsclient setup`)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from nsclient import config
from tests.client.helpers import Cli, aws_env, build_folder
from tests.client.test_config import STACK_OUTPUTS, create_stack
from tests.support import SNAKEFILE_OK, Backend


def uploads_of(backend: Backend, folder: Path) -> list[str]:
    return [key for key in backend.keys("inbox/") if folder.name in key]


@pytest.mark.parametrize(
    ("option", "sentence"),
    [
        (["--cpus", "1000"], "Error: Nothing was uploaded: cpus 1000 is over this deployment's limit of 64."),
        (
            ["--memory", "1000000GiB"],
            "Error: Nothing was uploaded: memory 1024000000 MiB is over this deployment's limit of 786432 MiB.",
        ),
    ],
)
def test_push_over_the_local_backends_limits_uploads_nothing(
    option: list[str], sentence: str, local_cli: Cli, local_backend: Backend, tmp_path: Path
) -> None:
    folder = build_folder(tmp_path / f"too-big-{uuid.uuid4().hex[:8]}", SNAKEFILE_OK)

    result = local_cli.process("push", str(folder), *option)

    assert result.code == 1
    assert result.error_lines == [sentence]
    assert result.out == ""
    assert uploads_of(local_backend, folder) == []
    assert local_cli.pushes() == {}


def test_demo_over_the_local_backends_limits_uploads_nothing(
    local_cli: Cli, local_backend: Backend, tmp_path: Path
) -> None:
    folder = tmp_path / f"demo-{uuid.uuid4().hex[:8]}"

    result = local_cli.process("demo", str(folder), "--cpus", "1000")

    assert result.code == 1
    assert result.error_lines == ["Error: Nothing was uploaded: cpus 1000 is over this deployment's limit of 64."]
    assert uploads_of(local_backend, folder) == []
    assert local_cli.pushes() == {}


def test_setup_saves_the_stacks_limits_and_push_keeps_within_them(
    cli: Cli, local_backend: Backend, tmp_path: Path
) -> None:
    """A created compute environment of 16 vCPUs caps what a run may ask for below MaxCpus."""
    cli.env.update(aws_env(local_backend, local_backend.admin))
    name = f"limited-{uuid.uuid4().hex[:8]}"
    outputs = {**STACK_OUTPUTS, "RunMaxCpus": "64", "RunMaxMemoryMiB": "65536", "RunComputeMaxVcpus": "16"}
    create_stack(local_backend, name, outputs)
    setup = cli.process(
        "setup", "--stack", name, "--region", "us-east-1", "--endpoint-url", local_backend.info.endpoint_url
    )
    assert setup.code == 0, setup.err
    saved = config.read_config(cli.config_file)["nsclient"]
    assert (saved["max-cpus"], saved["max-memory-mib"]) == ("16", "65536")
    folder = build_folder(tmp_path / f"capped-{uuid.uuid4().hex[:8]}", SNAKEFILE_OK)

    over_cpus = cli.process("push", str(folder), "--cpus", "17")
    over_memory = cli.process("push", str(folder), "--memory", "65GiB")

    assert over_cpus.code == 1
    assert over_cpus.error_lines == ["Error: Nothing was uploaded: cpus 17 is over this deployment's limit of 16."]
    assert over_memory.code == 1
    assert over_memory.error_lines == [
        "Error: Nothing was uploaded: memory 66560 MiB is over this deployment's limit of 65536 MiB."
    ]


@pytest.mark.parametrize(
    ("allowed", "notify", "sentence"),
    [
        ("none", "me@example.org", "this deployment emails no notify address directly, me@example.org included"),
        (
            "example.org",
            "me@elsewhere.net",
            "this deployment emails only addresses at example.org, not me@elsewhere.net",
        ),
    ],
)
def test_setup_saves_the_addresses_the_stack_mails_and_push_refuses_others(
    allowed: str, notify: str, sentence: str, cli: Cli, local_backend: Backend, tmp_path: Path
) -> None:
    cli.env.update(aws_env(local_backend, local_backend.admin))
    name = f"mails-{uuid.uuid4().hex[:8]}"
    outputs = {**STACK_OUTPUTS, "RunMaxCpus": "64", "RunMaxMemoryMiB": "65536", "NotifyAllowed": allowed}
    create_stack(local_backend, name, outputs)
    setup = cli.process(
        "setup", "--stack", name, "--region", "us-east-1", "--endpoint-url", local_backend.info.endpoint_url
    )
    assert setup.code == 0, setup.err
    assert config.read_config(cli.config_file)["nsclient"]["notify-allowed"] == allowed
    folder = build_folder(tmp_path / f"mailed-{uuid.uuid4().hex[:8]}", SNAKEFILE_OK)

    refused = cli.process("push", str(folder), "--notify", notify)

    assert refused.code == 1
    assert len(refused.error_lines) == 1 and refused.error_lines[0].startswith(
        f"Error: Nothing was uploaded: {sentence}"
    )
    assert uploads_of(local_backend, folder) == []
