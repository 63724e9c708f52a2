"""Environment variables as an envdir and an env.d zip: the Nextstrain CLI's and the image's conventions."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from nsclient_common.envdir import InvalidEnv, check_name, decode_value, read_dir, to_archive
from tests.support import envd_files


def test_an_env_d_zip_holds_one_envdir_file_per_variable() -> None:
    # Given variables with a multi-line value, an empty value and one to unset
    env = {"TOKEN": "s3cr3t value", "MULTI": "a\nb", "EMPTY": "", "GONE": None}

    # When they are zipped
    archive = zipfile.ZipFile(io.BytesIO(to_archive(env)))

    # Then each is a file named by the variable, written as the Nextstrain CLI writes an envdir
    assert {name: archive.read(name) for name in archive.namelist()} == {
        "TOKEN": b"s3cr3t value\n",
        "MULTI": b"a\x00b\n",
        "EMPTY": b"\n",
        "GONE": b"",
    }
    # And reading the files back gives the same values
    assert {name: decode_value(contents) for name, contents in envd_files(to_archive(env))} == env


def test_read_dir_reads_an_envdir_as_envdir_does(tmp_path: Path) -> None:
    (tmp_path / "FIRST_LINE").write_bytes(b"kept  \nignored\n")
    (tmp_path / "WITH_NUL").write_bytes(b"a\x00b\n")
    (tmp_path / "UNSET").write_bytes(b"")
    (tmp_path / "BLANK").write_bytes(b"\n")

    assert read_dir(tmp_path) == {"BLANK": "", "FIRST_LINE": "kept", "UNSET": None, "WITH_NUL": "a\nb"}


@pytest.mark.parametrize("name", ["1ST", "A-B", "A=B", "", "A B", "É"])
def test_malformed_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidEnv, match="is not an environment variable name"):
        check_name(name)


@pytest.mark.parametrize("name", ["NEXTSTRAIN_AWS_BATCH_WORKDIR_URL", "NEXTSTRAIN_ENVD_URL", "NEXTSTRAIN_DELETE_ENVD"])
def test_the_job_contracts_own_variables_are_refused(name: str) -> None:
    with pytest.raises(InvalidEnv, match=f"{name} is set by nsclient for every job"):
        check_name(name)


def test_a_region_may_be_given() -> None:
    assert check_name("AWS_DEFAULT_REGION") == "AWS_DEFAULT_REGION"


def test_read_dir_refuses_a_folder_inside_and_a_bad_file_name(tmp_path: Path) -> None:
    (tmp_path / "nested").mkdir()
    with pytest.raises(InvalidEnv, match="is a folder: an envdir holds one file per variable"):
        read_dir(tmp_path)
    (tmp_path / "nested").rmdir()
    (tmp_path / "bad-name").write_text("x\n")
    with pytest.raises(InvalidEnv, match="'bad-name' is not an environment variable name"):
        read_dir(tmp_path)


def test_read_dir_of_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x\n")
    with pytest.raises(InvalidEnv, match="is not a folder"):
        read_dir(tmp_path / "file")
