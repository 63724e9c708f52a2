"""push --env and --envdir as a user types them: what is uploaded, and the one-sentence refusals that
upload nothing."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import pytest

from nsclient_common.envdir import decode_value
from tests.support import envd_files

if TYPE_CHECKING:
    from pathlib import Path

    from tests.client.helpers import Cli
    from tests.support import Backend


def build_folder(tmp_path: Path) -> Path:
    folder = tmp_path / f"env-{uuid.uuid4().hex[:8]}"
    folder.mkdir()
    (folder / "Snakefile").write_text("rule all:\n    shell: 'true'\n")
    return folder


def inbox_keys(backend: Backend, bucket: str, folder: Path) -> list[str]:
    listing = backend.client("s3").list_objects_v2(Bucket=bucket, Prefix="inbox/")
    return [entry["Key"] for entry in listing.get("Contents", []) if folder.name in entry["Key"]]


def test_push_sends_the_variables_beside_the_build_and_names_them_in_its_metadata(
    quiet_cli: Cli, local_backend: Backend, quiet_bucket: str, tmp_path: Path
) -> None:
    # Given an envdir and variables given on the command line, one from this environment
    folder = build_folder(tmp_path)
    envdir = tmp_path / "envdir"
    envdir.mkdir()
    (envdir / "FROM_DIR").write_text("dir value\n")
    (envdir / "OVERRIDDEN").write_text("from the dir\n")

    # When the build is pushed
    result = quiet_cli(
        "push", str(folder), "--envdir", str(envdir), "--env", "OVERRIDDEN=from the option", "--env", "TOKEN",
        env={"TOKEN": "t0ken"},
    )  # fmt: skip

    # Then the build and its variables are uploaded, the variables under a name that starts no run
    assert result.code == 0, result.err
    [build_key] = [key for key in inbox_keys(local_backend, quiet_bucket, folder) if key.endswith(".zip")]
    envd_key = build_key.removesuffix(".zip") + ".env.d"
    assert sorted(inbox_keys(local_backend, quiet_bucket, folder)) == sorted([build_key, envd_key])
    s3 = local_backend.client("s3")
    envd = s3.get_object(Bucket=quiet_bucket, Key=envd_key)
    values = {name: decode_value(contents) for name, contents in envd_files(envd["Body"].read())}
    # (--env wins over --envdir, as in the Nextstrain CLI)
    assert values == {"FROM_DIR": "dir value", "OVERRIDDEN": "from the option", "TOKEN": "t0ken"}
    # And the build's metadata names that very version of them, and no value
    metadata = s3.head_object(Bucket=quiet_bucket, Key=build_key)["Metadata"]
    assert metadata["env-d-version"] == envd.get("VersionId", "null")
    assert "t0ken" not in str(metadata)


def test_push_without_variables_sends_no_env_d(
    quiet_cli: Cli, local_backend: Backend, quiet_bucket: str, tmp_path: Path
) -> None:
    folder = build_folder(tmp_path)

    result = quiet_cli("push", str(folder))

    assert result.code == 0, result.err
    [build_key] = inbox_keys(local_backend, quiet_bucket, folder)
    assert "env-d-version" not in local_backend.client("s3").head_object(Bucket=quiet_bucket, Key=build_key)["Metadata"]


def test_env_name_not_set_here_is_exit_1_and_uploads_nothing(
    quiet_cli: Cli, local_backend: Backend, quiet_bucket: str, tmp_path: Path
) -> None:
    folder = build_folder(tmp_path)

    result = quiet_cli("push", str(folder), "--env", "NSCLIENT_TEST_UNSET", env={"NSCLIENT_TEST_UNSET": None})

    assert result.code == 1
    assert result.error_lines == [
        "Error: --env NSCLIENT_TEST_UNSET: NSCLIENT_TEST_UNSET is not set in your environment; "
        "set it, or give --env NSCLIENT_TEST_UNSET=VALUE."
    ]
    assert result.out == ""
    assert inbox_keys(local_backend, quiet_bucket, folder) == []


@pytest.mark.parametrize(
    ("arguments", "sentence"),
    [
        (
            ["--env", "1ST=x"],
            "argument --env: '1ST' is not an environment variable name: "
            "use letters, digits and _, not starting with a digit",
        ),
        (
            ["--env", "NEXTSTRAIN_ENVD_URL=s3://elsewhere/env.d.zip"],
            "argument --env: NEXTSTRAIN_ENVD_URL is set by nsclient for every job and can't be given",
        ),
        (
            ["--envdir", "no-such-envdir"],
            "argument --envdir: no-such-envdir is not a folder: an envdir is a folder of one file per variable",
        ),
    ],
)
def test_malformed_env_options_are_usage_errors_that_upload_nothing(
    quiet_cli: Cli, local_backend: Backend, quiet_bucket: str, tmp_path: Path, arguments: list[str], sentence: str
) -> None:
    folder = build_folder(tmp_path)

    result = quiet_cli("push", str(folder), *arguments)

    assert result.code == 2
    assert result.error_lines[-1] == f"nsclient push: error: {sentence}"
    assert result.out == ""
    assert inbox_keys(local_backend, quiet_bucket, folder) == []


@pytest.mark.parametrize(
    ("make", "sentence"),
    [
        (lambda d: (d / "bad-name").write_text("x\n"), "'bad-name' is not an environment variable name"),
        (lambda d: (d / "nested").mkdir(), "is a folder: an envdir holds one file per variable"),
    ],
)
def test_an_envdir_holding_what_is_not_a_variable_is_exit_1_and_uploads_nothing(
    quiet_cli: Cli, local_backend: Backend, quiet_bucket: str, tmp_path: Path, make: object, sentence: str
) -> None:
    folder = build_folder(tmp_path)
    envdir = tmp_path / "envdir"
    envdir.mkdir()
    make(envdir)  # type: ignore[operator]

    result = quiet_cli("push", str(folder), "--envdir", str(envdir))

    assert result.code == 1
    assert len(result.error_lines) == 1
    assert result.error_lines[0].startswith(f"Error: Envdir {envdir}: ")
    assert sentence in result.error_lines[0]
    assert inbox_keys(local_backend, quiet_bucket, folder) == []
