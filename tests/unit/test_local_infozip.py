"""The local job's zip handling gives what the stock image's Info-ZIP `unzip -: -o` and two `zip -u`
runs give: the same folder from a workdir zip, the same results zip from a build's folder. Compared
with the real tools when they are installed (the image has them)."""

from __future__ import annotations

import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from nsclient.local import infozip
from nsclient.local.entrypoint import RETURN_EXCLUDED, RETURN_INCLUDED, returned

pytestmark = pytest.mark.skipif(
    not (shutil.which("zip") and shutil.which("unzip")), reason="Info-ZIP's zip and unzip are not installed"
)
INPUT_TIME = 1614834368  # 2021-03-04 05:06:08 UTC


def make_build(root: Path) -> None:
    (root / "scripts").mkdir(parents=True)
    (root / "empty").mkdir()
    (root / ".snakemake/log").mkdir(parents=True)
    (root / "Snakefile").write_text("rule all:\n")
    (root / "scripts/run.sh").write_text("#!/bin/sh\n")
    (root / "scripts/run.sh").chmod(0o755)
    (root / ".snakemake/log/old.log").write_text("log\n")
    (root / "current").symlink_to("Snakefile")
    for path in root.rglob("*"):
        os.utime(path, (INPUT_TIME, INPUT_TIME), follow_symlinks=False)


def tree(root: Path) -> dict[str, tuple[int, int, str, bytes]]:
    """Each path's mode, mtime, link target and content."""
    found = {}
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        link = str(path.readlink()) if path.is_symlink() else ""
        data = path.read_bytes() if path.is_file() and not path.is_symlink() else b""
        mtime = 0 if link else int(info.st_mtime)  # neither tool sets a link's own time
        found[path.relative_to(root).as_posix()] = (info.st_mode, mtime, link, data)
    return found


def entries(archive: Path) -> dict[str, tuple[int, int, tuple[int, ...], int]]:
    with zipfile.ZipFile(archive) as opened:
        return {m.filename: (m.external_attr >> 16, m.CRC, m.date_time, m.file_size) for m in opened.infolist()}


@pytest.fixture
def upload(tmp_path: Path) -> Path:
    """A workdir zip with an executable, an empty folder, snakemake state and a symlink stored as one."""
    make_build(tmp_path / "build")
    archive = tmp_path / "upload.zip"
    subprocess.run(["zip", "-q", "-r", "-y", str(archive), "."], cwd=tmp_path / "build", check=True)
    return archive


def test_extract_gives_the_folder_unzip_gives(upload: Path, tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    subprocess.run(["unzip", "-q", "-:", "-o", str(upload)], cwd=tmp_path / "real", check=True)

    infozip.extract_all(upload, tmp_path / "ours", say=lambda _: None)

    assert tree(tmp_path / "ours") == tree(tmp_path / "real")
    assert os.access(tmp_path / "ours/scripts/run.sh", os.X_OK)
    assert (tmp_path / "ours/current").is_symlink()


def test_update_gives_the_results_zip_the_two_zip_runs_give(upload: Path, tmp_path: Path) -> None:
    build = tmp_path / "job"
    infozip.extract_all(upload, build, say=lambda _: None)
    # The build deletes an input, changes one, makes results, a link to one, a dangling link and
    # snakemake state both kept and left out.
    (build / "Snakefile").unlink()
    (build / "scripts/run.sh").write_text("#!/bin/sh\necho changed\n")
    (build / "results/sub").mkdir(parents=True)
    (build / "results/tree.json").write_text("{}\n")
    (build / "latest.json").symlink_to("results/tree.json")
    (build / "dangling").symlink_to("nowhere")
    (build / ".snakemake/metadata").mkdir()
    (build / ".snakemake/metadata/m").write_text("m\n")
    (build / ".snakemake/conda").mkdir()
    (build / ".snakemake/conda/env").write_text("e\n")
    real, ours = tmp_path / "real.zip", tmp_path / "ours.zip"
    shutil.copy(upload, real)
    shutil.copy(upload, ours)
    subprocess.run(["zip", "-q", "-u", str(real), "-r", ".", "--exclude", RETURN_EXCLUDED], cwd=build, check=False)
    subprocess.run(["zip", "-q", "-u", str(real), "-r", ".", "--include", *RETURN_INCLUDED], cwd=build, check=False)

    infozip.update(ours, build, returned, say=lambda _: None)

    assert entries(ours) == entries(real)
    assert "Snakefile" in entries(ours)  # a deleted file's entry stays
    assert entries(ours)["latest.json"][0] >> 12 == 0o10  # a link is stored as its target's content


def test_update_rewrites_nothing_when_nothing_changed(upload: Path, tmp_path: Path) -> None:
    build = tmp_path / "job"
    infozip.extract_all(upload, build, say=lambda _: None)
    before = upload.read_bytes()

    assert infozip.update(upload, build, returned, say=lambda _: None) == 0
    assert upload.read_bytes() == before
