"""What push uploads and what pull writes back, as the Nextstrain CLI does it."""

from __future__ import annotations

import calendar
import io
import os
import time
import zipfile
import zlib
from typing import TYPE_CHECKING

import pytest

from nsclient.transfer.folder import upload_members
from nsclient.transfer.pullplan import plan_pull
from tests.zips import extract, write_zip

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping
    from pathlib import Path

# --- upload ---------------------------------------------------------------------------------------

BUILD_TREE = {
    # Kept: the build's own files.
    "Snakefile": "kept",
    "config/config.yaml": "kept",
    "data/sequences.fasta": "kept",
    "scripts/helper.py": "kept",
    "my.environment.notes": "kept",  # environment* is a prefix glob on the name
    # Kept: snakemake's logs, metadata and storage (mtime-based rerun triggers, remote files).
    ".snakemake/log/2026-01-01T000000.snakemake.log": "kept",
    ".snakemake/metadata/cmVzdWx0cw==": "kept",
    ".snakemake/storage/s3/bucket/file.txt": "kept",
    # Never uploaded.
    ".git/HEAD": "excluded",
    ".git/objects/ab/cdef": "excluded",
    "vendored/.git/config": "excluded",
    ".snakemake/conda/env.yaml": "excluded",
    ".snakemake/incomplete/marker": "excluded",
    ".snakemake/locks/0.input.lock": "excluded",
    "environment": "excluded",
    "environment.sh": "excluded",
    "secrets/environment.local": "excluded",
    "scripts/helper.cpython-311.pyc": "excluded",
    "top.pyc": "excluded",
    "__pycache__/x.py": "excluded",
    "scripts/__pycache__/helper.cpython-311.pyc": "excluded",
    "scripts/deep/er/__pycache__/notes.txt": "excluded",
}


def make_tree(root: Path, files: dict[str, str]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    return root


def uploaded(root: Path, exclude: list[str] | None = None) -> set[str]:
    buffer = io.BytesIO()
    count = write_zip(root, buffer, exclude or [])
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as archive:
        names = set(archive.namelist())
    assert count == len(names)
    return names


def test_upload_leaves_out_what_the_nextstrain_cli_leaves_out(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "build", BUILD_TREE)

    assert uploaded(root) == {name for name, what in BUILD_TREE.items() if what == "kept"}


@pytest.mark.parametrize(
    ("pattern", "left_out"),
    [
        pytest.param("data/*.fasta", {"data/sequences.fasta"}, id="path-glob"),
        pytest.param("*.py", {"scripts/helper.py"}, id="name-glob-at-any-depth"),
        pytest.param("config/", {"config/config.yaml"}, id="folder"),
        pytest.param("scripts", {"scripts/helper.py"}, id="folder-by-name"),
        pytest.param("**/*.yaml", {"config/config.yaml"}, id="globstar"),
        pytest.param("nothing-matches-*", set(), id="no-match"),
    ],
)
def test_upload_also_leaves_out_the_users_globs(tmp_path: Path, pattern: str, left_out: set[str]) -> None:
    root = make_tree(tmp_path / "build", BUILD_TREE)
    kept = {name for name, what in BUILD_TREE.items() if what == "kept"}

    assert uploaded(root, [pattern]) == kept - left_out


def test_upload_globs_star_stays_within_one_folder(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "build", {"Snakefile": "", "data/a.fasta": "", "data/sub/b.fasta": ""})

    assert uploaded(root, ["data/*.fasta"]) == {"Snakefile", "data/sub/b.fasta"}
    assert uploaded(root, ["data/**/*.fasta"]) == {"Snakefile"}


def test_upload_follows_links_to_their_content_and_skips_dangling_ones(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "build", {"Snakefile": "rule all:\n"})
    outside = tmp_path / "shared.fasta"
    outside.write_text(">seq\nACGT\n")
    (root / "data.fasta").symlink_to(outside)
    (root / "gone.txt").symlink_to(tmp_path / "missing.txt")

    buffer = io.BytesIO()
    write_zip(root, buffer)
    with zipfile.ZipFile(buffer) as archive:
        assert sorted(archive.namelist()) == ["Snakefile", "data.fasta"]
        assert archive.read("data.fasta") == b">seq\nACGT\n"


def test_upload_members_are_relative_posix_paths_in_a_stable_order(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "build", {"b/2.txt": "", "a/1.txt": "", "Snakefile": ""})

    assert [name for _, name in upload_members(root)] == ["Snakefile", "a/1.txt", "b/2.txt"]


# --- pull -----------------------------------------------------------------------------------------

ZIP_TIME = (2026, 1, 2, 3, 4, 6)  # as written by the job, whose clock is UTC


def results_zip(
    files: Mapping[str, bytes | str], when: tuple[int, int, int, int, int, int] = ZIP_TIME
) -> zipfile.ZipFile:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            info = zipfile.ZipInfo(name, date_time=when)
            archive.writestr(info, content)
    return zipfile.ZipFile(io.BytesIO(buffer.getvalue()))


def crc(content: bytes | str) -> int:
    return zlib.crc32(content.encode() if isinstance(content, str) else content)


def pull_into(
    destination: Path,
    results: zipfile.ZipFile,
    *,
    inputs: dict[str, int] | None = None,
    downloads: list[str] | None = None,
    exclusions: list[str] | None = None,
) -> list[str]:
    """Plan and extract as `nsclient pull` does; the names written."""
    plan = plan_pull(results, destination, inputs=inputs, downloads=downloads or [], exclusions=exclusions or [])
    written = [extract(results, member, destination) for member in plan.extract]
    return sorted(path.relative_to(destination).as_posix() for path in written)


def all_files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() or p.is_symlink()}


HOSTILE = [
    "/etc/nsclient-evil",
    "../evil.txt",
    "results/../../evil.txt",
    "..\\evil.txt",
    "\\evil.txt",
    "C:/evil.txt",
    "c:evil.txt",
]


@pytest.mark.parametrize("name", HOSTILE)
def test_pull_refuses_absolute_and_parent_members(tmp_path: Path, name: str) -> None:
    destination = tmp_path / "a" / "b" / "build"
    destination.mkdir(parents=True)
    results = results_zip({name: "owned", "results/ok.txt": "fine"})

    plan = plan_pull(results, destination, inputs=None, downloads=[], exclusions=[])

    assert plan.refused == [name]
    assert [m.filename for m in plan.extract] == ["results/ok.txt"]


def test_pull_never_writes_outside_the_folder(tmp_path: Path) -> None:
    destination = tmp_path / "a" / "b" / "build"
    destination.mkdir(parents=True)
    results = results_zip({**dict.fromkeys(HOSTILE, "owned"), "results/ok.txt": "fine"})

    written = pull_into(destination, results)

    assert written == ["results/ok.txt"]
    assert all_files(tmp_path) == {"a/b/build/results/ok.txt"}


def test_pull_refuses_members_that_a_link_in_the_folder_would_carry_outside(tmp_path: Path) -> None:
    destination = tmp_path / "build"
    outside = tmp_path / "outside"
    destination.mkdir()
    outside.mkdir()
    (destination / "results").symlink_to(outside, target_is_directory=True)
    results = results_zip({"results/evil.txt": "owned", "auspice/ok.json": "{}"})

    plan = plan_pull(results, destination, inputs=None, downloads=[], exclusions=[])
    written = [extract(results, member, destination) for member in plan.extract]

    assert plan.refused == ["results/evil.txt"]
    assert [p.relative_to(destination).as_posix() for p in written] == ["auspice/ok.json"]
    assert list(outside.iterdir()) == []


def test_pull_writes_only_members_that_differ_from_the_local_file(tmp_path: Path) -> None:
    destination = make_tree(tmp_path / "build", {"results/same.txt": "same", "results/old.txt": "old"})
    results = results_zip({"results/same.txt": "same", "results/old.txt": "new", "results/fresh.txt": "fresh"})

    written = pull_into(destination, results)

    assert written == ["results/fresh.txt", "results/old.txt"]
    assert (destination / "results/old.txt").read_text() == "new"


def test_pull_leaves_inputs_alone_even_when_edited_after_push(tmp_path: Path) -> None:
    uploaded_inputs = {"Snakefile": "rule all:\n", "data/in.txt": "as pushed", "config.yaml": "a: 1\n"}
    destination = make_tree(tmp_path / "build", uploaded_inputs)
    (destination / "data/in.txt").write_text("edited locally after push")
    inputs = {name: crc(content) for name, content in uploaded_inputs.items()}
    # The run changed config.yaml (a rule rewrote it) and produced results/out.txt.
    results = results_zip({**uploaded_inputs, "config.yaml": "a: 2\n", "results/out.txt": "built"})

    plan = plan_pull(results, destination, inputs=inputs, downloads=[], exclusions=[])
    written = pull_into(destination, results, inputs=inputs)

    assert written == ["config.yaml", "results/out.txt"]
    assert plan.not_produced == 2
    assert (destination / "data/in.txt").read_text() == "edited locally after push"


def test_pull_without_the_upload_record_compares_every_member(tmp_path: Path) -> None:
    destination = make_tree(tmp_path / "build", {"data/in.txt": "local"})
    results = results_zip({"data/in.txt": "remote", "results/out.txt": "built"})

    assert pull_into(destination, results, inputs=None) == ["data/in.txt", "results/out.txt"]


def test_a_second_pull_writes_nothing(tmp_path: Path) -> None:
    destination = tmp_path / "build"
    results = results_zip({"results/out.txt": "built", "auspice/x.json": "{}"})

    first = pull_into(destination, results)
    second = pull_into(destination, results)

    assert first == ["auspice/x.json", "results/out.txt"]
    assert second == []


@pytest.fixture
def far_from_utc() -> Iterator[None]:
    """A local zone far from UTC, so that reading the zip's times as local time would show."""
    saved = os.environ.get("TZ")
    os.environ["TZ"] = "Pacific/Kiritimati"  # UTC+14
    time.tzset()
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = saved
        time.tzset()


def test_pull_restores_modification_times_from_the_zip_as_utc(tmp_path: Path, far_from_utc: None) -> None:
    destination = tmp_path / "build"
    results = results_zip({"results/out.txt": "built"})

    pull_into(destination, results)

    assert (destination / "results/out.txt").stat().st_mtime == calendar.timegm((*ZIP_TIME, 0, 0, 0))


def test_pull_leaves_no_partial_file(tmp_path: Path) -> None:
    destination = tmp_path / "build"

    pull_into(destination, results_zip({"results/out.txt": "built" * 1000}))

    assert all_files(destination) == {"results/out.txt"}


OUTPUTS = {
    "auspice/zika.json": "{}",
    "auspice/zika_root-sequence.json": "{}",
    "auspice/old/zika.json": "{}",
    "results/aligned.fasta": ">a\n",
    "results/tree.nwk": "();",
    "logs/align.log": "ok",
    "results/deep/run.log": "ok",
}
AUSPICE = {"auspice/zika.json", "auspice/zika_root-sequence.json"}


@pytest.mark.parametrize(
    ("downloads", "exclusions", "expected"),
    [
        pytest.param(["auspice/*.json"], [], AUSPICE, id="star-stays-in-its-folder"),
        pytest.param(["auspice/**/*.json"], [], AUSPICE | {"auspice/old/zika.json"}, id="globstar"),
        pytest.param(
            ["auspice/zika.json", "results/tree.nwk"], [], {"auspice/zika.json", "results/tree.nwk"}, id="two"
        ),
        pytest.param(["*.nwk"], [], {"results/tree.nwk"}, id="name-at-any-depth"),
        pytest.param([], ["results/*.fasta"], set(OUTPUTS) - {"results/aligned.fasta"}, id="exclude"),
        pytest.param([], ["*.log"], set(OUTPUTS) - {"logs/align.log", "results/deep/run.log"}, id="exclude-any-depth"),
        pytest.param([], ["results/"], AUSPICE | {"auspice/old/zika.json", "logs/align.log"}, id="exclude-folder"),
        pytest.param(["auspice/*.json", "*.nwk"], ["*root-sequence*"], {"auspice/zika.json", "results/tree.nwk"}),
    ],
)
def test_pull_honours_download_and_exclude_globs(
    tmp_path: Path, downloads: list[str], exclusions: list[str], expected: set[str]
) -> None:
    destination = tmp_path / "build"

    written = pull_into(destination, results_zip(OUTPUTS), downloads=downloads, exclusions=exclusions)

    assert set(written) == expected
    assert all_files(destination) == expected
