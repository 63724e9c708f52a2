"""Is an upload a build we can run? Checked from the zip's central directory, before any job exists."""

from __future__ import annotations

import io
import os
import zipfile

import pytest

from nsclient_common.settings import Limits
from nsclient_common.zipcheck import BuildArchive, UploadRejected, check_build_archive
from tests.support import SNAKEFILE_OK, crafted_zip, zip_bytes

LIMITS = Limits()  # the deployment's defaults (template.yaml)


def check(body: bytes, limits: Limits = LIMITS) -> BuildArchive:
    return check_build_archive(io.BytesIO(body), len(body), limits)


def rejection(body: bytes, limits: Limits = LIMITS) -> str:
    with pytest.raises(UploadRejected) as rejected:
        check(body, limits)
    return str(rejected.value)


def good_zip() -> bytes:
    return zip_bytes({"Snakefile": SNAKEFILE_OK, "config/config.yaml": "a: 1\n", "data/seqs.fasta": ">a\nACGT\n" * 200})


@pytest.mark.parametrize("snakefile", ["Snakefile", "snakefile", "workflow/Snakefile", "workflow/snakefile"])
def test_check_build_archive_accepts_a_build_and_finds_its_snakefile(snakefile: str) -> None:
    body = zip_bytes({snakefile: SNAKEFILE_OK, "data/metadata.tsv": "strain\tdate\n"})
    archive = check(body)
    assert archive.snakefile == snakefile
    assert archive.members == 2
    assert archive.uncompressed_bytes == len(SNAKEFILE_OK) + len("strain\tdate\n")


def test_check_build_archive_accepts_members_written_with_a_dot_slash() -> None:
    assert check(zip_bytes({"./Snakefile": SNAKEFILE_OK})).snakefile == "Snakefile"


def test_check_build_archive_accepts_well_compressed_small_files() -> None:
    # Text compresses far more than 100x; below 1 MiB that is not a bomb, just a tidy build.
    body = zip_bytes({"Snakefile": SNAKEFILE_OK, "data/blank.txt": "\n" * 500_000})
    assert check(body).uncompressed_bytes > 500_000


def test_check_build_archive_accepts_an_incompressible_megabyte() -> None:
    body = zip_bytes({"Snakefile": SNAKEFILE_OK, "data/random.bin": os.urandom(2 * 1024 * 1024)})
    assert check(body).members == 2


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"", ["not a zip archive"]),
        (b"Snakefile\nrule all: ...\n", ["not a zip archive"]),
        (b"\x1f\x8b\x08\x00" + os.urandom(200), ["not a zip archive"]),  # a .tar.gz renamed .zip
        (good_zip()[: len(good_zip()) // 2], ["truncated"]),
        (good_zip()[:-100], ["truncated"]),
        (good_zip()[:-1], ["truncated"]),
    ],
    ids=["empty", "text", "gzip", "first-half", "last-100-bytes-cut", "last-byte-cut"],
)
def test_check_build_archive_rejects_what_is_not_a_whole_zip(body: bytes, words: list[str]) -> None:
    reason = rejection(body)
    for word in words:
        assert word in reason


def test_check_build_archive_rejects_a_member_that_runs_past_the_end() -> None:
    body = crafted_zip(b"x" * 100, [("Snakefile", 10_000, 10_000)])
    assert "truncated: 'Snakefile' runs past the end of the file" in rejection(body)


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("/etc/cron.d/evil", ["absolute path", "'/etc/cron.d/evil'"]),
        ("\\windows\\evil.txt", ["absolute path"]),
        ("C:/evil.txt", ["absolute path"]),
        ("../evil.txt", ["climbs out of the build folder", "'../evil.txt'"]),
        ("data/../../evil.txt", ["climbs out of the build folder"]),
        ("data\\..\\..\\evil.txt", ["climbs out of the build folder"]),
    ],
)
def test_check_build_archive_rejects_paths_that_escape_the_build_folder(name: str, words: list[str]) -> None:
    body = zip_bytes({"Snakefile": SNAKEFILE_OK, name: "x"})
    assert zipfile.ZipFile(io.BytesIO(body)).namelist()[1] == name  # zipfile kept the name as given
    reason = rejection(body)
    for word in words:
        assert word in reason


def test_check_build_archive_rejects_symbolic_links() -> None:
    body = zip_bytes({"Snakefile": SNAKEFILE_OK}, symlinks={"data/secrets": "/etc/passwd"})
    reason = rejection(body)
    assert "symbolic link ('data/secrets')" in reason
    assert "zip the files it points to instead" in reason


def test_check_build_archive_rejects_a_member_that_expands_too_many_times() -> None:
    # Given ~20 MB of zeros, which deflate shrinks about 1000 times
    body = zip_bytes({"Snakefile": SNAKEFILE_OK, "data/zeros.bin": b"\0" * 20_000_000})
    assert len(body) < 100_000

    # Then it is refused as a bomb, with the member named
    reason = rejection(body)
    assert "'data/zeros.bin' expands" in reason
    assert "over the limit of 100" in reason
    assert "zip bomb" in reason


def test_check_build_archive_rejects_an_archive_that_expands_too_much_in_all() -> None:
    # Given overlapping members, each claiming 100x its data (not over the ratio), 513 x 100 MiB in all
    blob = os.urandom(1024 * 1024)
    body = crafted_zip(blob, [(f"data/part-{i:03}.bin", len(blob), 100 * len(blob)) for i in range(513)])

    # Then the total is over the 50 GiB default, and the upload is refused before anything unzips it
    reason = rejection(body)
    assert "expands to 53,791,948,800 bytes, over the limit of 53,687,091,200" in reason
    assert "zip bomb" in reason


def test_check_build_archive_rejects_many_small_members_that_expand_too_much_together() -> None:
    # Each member is under the 1 MiB floor of the per-member check; together they are a bomb.
    files: dict[str, str | bytes] = {"Snakefile": SNAKEFILE_OK}
    files.update({f"data/zeros-{i}.bin": b"\0" * 1_000_000 for i in range(20)})
    reason = rejection(zip_bytes(files))
    assert "The archive expands" in reason and "zip bomb" in reason


def test_check_build_archive_rejects_an_upload_over_the_size_limit() -> None:
    body = good_zip()
    reason = rejection(body, Limits(max_upload_bytes=len(body) - 1))
    assert f"The upload is {len(body):,} bytes, over this deployment's limit of {len(body) - 1:,}" in reason


def test_check_build_archive_rejects_too_many_members() -> None:
    reason = rejection(good_zip(), Limits(max_members=2))
    assert "holds 3 entries, over the limit of 2" in reason


def test_check_build_archive_applies_the_deployments_own_limits() -> None:
    body = good_zip()
    assert "over the limit of 100" in rejection(body, Limits(max_uncompressed_bytes=100))
    assert check(body, Limits(max_uncompressed_bytes=100_000)).members == 3


@pytest.mark.parametrize(
    "files",
    [
        {"build/Snakefile": SNAKEFILE_OK, "build/data/x.txt": "x"},  # zipped the folder, not its contents
        {"README.md": "no workflow here"},
        {"Snakefile.txt": SNAKEFILE_OK},
        {"Snakefile/": ""},
        {"rules/Snakefile": SNAKEFILE_OK},
    ],
)
def test_check_build_archive_rejects_an_archive_without_a_top_level_snakefile(files: dict[str, str]) -> None:
    reason = rejection(zip_bytes(files))
    assert "no Snakefile at its top level" in reason
    assert "zip the build folder's contents" in reason
