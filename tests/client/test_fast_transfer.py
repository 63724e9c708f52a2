"""The streamed, parallel push and the ranged, parallel pull give the same trees as plain zipfile does."""

from __future__ import annotations

import io
import itertools
import os
import random
import shutil
import subprocess
import zipfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from nsclient.progress import Progress
from nsclient.transfer import download, zipstream
from nsclient.transfer.download import fetch_members, plan_ranges
from nsclient.transfer.folder import upload_members
from nsclient.transfer.pace import Pace
from nsclient.transfer.pull import pull_workdir
from nsclient.transfer.pullplan import PullPlan, member_crcs, plan_pull
from nsclient.transfer.upload import PART_SIZE, StreamingUpload
from nsclient.transfer.zipstream import zip_stream
from nsclient_common.display import size
from nsclient_common.s3io import open_s3_object
from tests.zips import extract

if TYPE_CHECKING:
    from collections.abc import Iterator

BUCKET = "nsclient-fast-transfer-tests"


@pytest.fixture
def s3(moto_account: str) -> Any:
    """A client and a versioned bucket in the test's own moto account."""
    client = boto3.client("s3", region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    return client


def make_build(root: Path, files: int = 300) -> Path:
    """Small text files, FASTA of mutated copies of one genome, random bytes, an empty file, a large file."""
    rng = random.Random(3)
    genome = "".join(rng.choice("ACGT") for _ in range(10_000))
    (root / "data").mkdir(parents=True)
    (root / "Snakefile").write_text("rule all:\n    input: []\n")
    (root / "empty.txt").write_bytes(b"")
    (root / "noise.bin").write_bytes(rng.randbytes(200_000))
    for i in range(files):
        mutated = "".join(base if rng.random() > 0.01 else "N" for base in genome[:2000])
        (root / "data" / f"sample{i:04d}.fasta").write_text(f">s{i}\n{mutated}\n")
        (root / "data" / f"sample{i:04d}.tsv").write_text(f"strain\tdate\ns{i}\t2026-01-{i % 28 + 1:02d}\n")
    # Larger than a deflate chunk and than an upload part: several chunks and several parts.
    big = "".join(f">copy{i}\n{genome}\n" for i in range(1200))
    (root / "data" / "big.fasta").write_text(big)
    (root / "run.sh").write_text("#!/bin/sh\n")
    (root / "run.sh").chmod(0o755)
    return root


def tree(root: Path) -> dict[str, tuple[bytes, int]]:
    return {
        path.relative_to(root).as_posix(): (path.read_bytes(), int(path.stat().st_mtime))
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def reference_zip(root: Path, path: Path) -> None:
    """The zip as zipfile makes it, member by member in one thread."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for source, name in upload_members(root):
            archive.write(source, name)


def test_streamed_zip_holds_what_zipfile_would(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(zipstream, "CHUNK_SIZE", 64 * 1024)  # many chunks per large file
    monkeypatch.setattr(zipstream, "READ_AHEAD_BYTES", 256 * 1024)  # the writer waits on the workers
    root = make_build(tmp_path / "build")
    streamed, reference = tmp_path / "streamed.zip", tmp_path / "reference.zip"
    with streamed.open("wb") as handle:
        count = zip_stream(upload_members(root), handle.write, workers=3)
    reference_zip(root, reference)

    with zipfile.ZipFile(streamed) as ours, zipfile.ZipFile(reference) as theirs:
        assert count == len(theirs.infolist())
        assert ours.testzip() is None
        assert [m.filename for m in ours.infolist()] == [m.filename for m in theirs.infolist()]
        for mine, other in zip(ours.infolist(), theirs.infolist(), strict=True):
            assert (mine.CRC, mine.file_size, mine.date_time) == (other.CRC, other.file_size, other.date_time)
            assert mine.external_attr >> 16 == other.external_attr >> 16  # the mode, which unzip restores
            assert mine.compress_type in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
            assert ours.read(mine) == theirs.read(other)
        big = ours.getinfo("data/big.fasta")
        assert big.compress_size < big.file_size / 2  # deflated, not stored
    if shutil.which("unzip"):  # what the stock job entrypoint runs
        checked = subprocess.run(["unzip", "-t", str(streamed)], capture_output=True, text=True)
        assert checked.returncode == 0, checked.stdout
        unpacked = tmp_path / "unpacked"
        subprocess.run(["unzip", "-q", str(streamed), "-d", str(unpacked)], check=True)
        assert {k: v[0] for k, v in tree(unpacked).items()} == {k: v[0] for k, v in tree(root).items()}
        assert os.access(unpacked / "run.sh", os.X_OK)


class Chosen(Pace):
    """Chunks compressed densely as `choices` says, one after another (as behind a slow uplink)."""

    def __init__(self, choices: Iterator[bool]) -> None:
        super().__init__()
        self.choices = choices

    def next_dense(self) -> bool:
        return next(self.choices)


def test_chunks_compressed_densely_while_the_link_lags_make_the_same_smaller_zip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(zipstream, "CHUNK_SIZE", 64 * 1024)  # a large member mixes both encoders
    root = make_build(tmp_path / "build")
    zips = {
        "fast": lambda: itertools.repeat(False),
        "dense": lambda: itertools.repeat(True),
        "mixed": lambda: itertools.cycle([True, False]),
    }
    for label, choices in zips.items():
        with (tmp_path / f"{label}.zip").open("wb") as handle:
            zip_stream(upload_members(root), handle.write, pace=Chosen(choices()))
    for label in zips:
        with zipfile.ZipFile(tmp_path / f"{label}.zip") as archive:
            assert archive.testzip() is None
            assert {m.filename: archive.read(m) for m in archive.infolist()} == {
                name: (root / name).read_bytes() for _, name in upload_members(root)
            }
        if shutil.which("unzip"):
            checked = subprocess.run(["unzip", "-t", str(tmp_path / f"{label}.zip")], capture_output=True, text=True)
            assert checked.returncode == 0, checked.stdout
    sizes = {label: (tmp_path / f"{label}.zip").stat().st_size for label in zips}
    assert sizes["dense"] < sizes["mixed"] < sizes["fast"]


def test_streaming_upload_sends_parts_and_the_object_is_the_zip(tmp_path: Path, s3: Any) -> None:
    root = make_build(tmp_path / "build")
    (root / "data" / "reads.bin").write_bytes(random.Random(9).randbytes(2 * PART_SIZE))  # does not shrink
    written = tmp_path / "local.zip"
    with written.open("wb") as handle:
        zip_stream(upload_members(root), handle.write)
    assert written.stat().st_size > 2 * PART_SIZE  # several parts, the last one short

    with StreamingUpload(s3, BUCKET, "inbox/b.zip", {"cpus": "2"}) as upload:
        zip_stream(upload_members(root), upload.write)
    assert upload.backlog() == 0  # every part stored
    head = s3.head_object(Bucket=BUCKET, Key="inbox/b.zip", VersionId=upload.version)
    assert head["Metadata"] == {"cpus": "2"}
    assert "-" in head["ETag"]  # a multipart upload
    sent = s3.get_object(Bucket=BUCKET, Key="inbox/b.zip")["Body"].read()
    with zipfile.ZipFile(written) as local, zipfile.ZipFile(io.BytesIO(sent)) as remote:
        assert remote.testzip() is None
        assert {m.filename: m.CRC for m in local.infolist()} == {m.filename: m.CRC for m in remote.infolist()}


def test_streaming_upload_of_a_small_zip_is_one_put(tmp_path: Path, s3: Any) -> None:
    root = tmp_path / "tiny"
    root.mkdir()
    (root / "Snakefile").write_text("rule all:\n")
    with StreamingUpload(s3, BUCKET, "inbox/t.zip", {}) as upload:
        zip_stream(upload_members(root), upload.write)
    assert upload.version
    head = s3.head_object(Bucket=BUCKET, Key="inbox/t.zip")
    assert "-" not in head["ETag"]
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []


def test_failed_streaming_upload_leaves_no_parts_behind(tmp_path: Path, s3: Any) -> None:
    root = make_build(tmp_path / "build")

    class Interrupted(Exception):
        pass

    def members() -> Iterator[tuple[Path, str]]:
        for number, member in enumerate(upload_members(root)):
            if number == 550:
                raise Interrupted
            yield member

    with pytest.raises(Interrupted), StreamingUpload(s3, BUCKET, "inbox/x.zip", {}) as upload:
        zip_stream(members(), upload.write)
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix="inbox/x.zip")


def put_results(s3: Any, root: Path, tmp_path: Path) -> tuple[Path, str | None]:
    """A results zip as the job writes one (inputs and outputs mixed), uploaded; returns it and its version."""
    results = tmp_path / "results.zip"
    with zipfile.ZipFile(results, "w", zipfile.ZIP_DEFLATED) as archive:
        for source, name in upload_members(root):
            archive.write(source, name)
            if name.endswith(".tsv"):
                archive.writestr(name.replace(".tsv", ".json"), f'{{"from": "{name}"}}' * 50)
        archive.writestr("results/empty.txt", b"")
        archive.writestr("results/stored.bin", random.Random(5).randbytes(70_000), zipfile.ZIP_STORED)
    s3.upload_file(str(results), BUCKET, "runs/r/workdir.zip")
    return results, s3.head_object(Bucket=BUCKET, Key="runs/r/workdir.zip").get("VersionId")


def ranged_pull(s3: Any, version: str | None, destination: Path, inputs: dict[str, int] | None) -> list[Path]:
    with open_s3_object(s3, BUCKET, "runs/r/workdir.zip", version) as handle, zipfile.ZipFile(handle) as results:
        plan = plan_pull(results, destination, inputs=inputs, downloads=[], exclusions=[])
        groups = plan_ranges(results, plan.extract)
    return fetch_members(s3, BUCKET, "runs/r/workdir.zip", version, groups, destination, Progress("", 0, quiet=True))


def zipfile_pull(results: Path, destination: Path, inputs: dict[str, int] | None) -> list[Path]:
    """The pull as it was: the whole zip local, members extracted one by one with zipfile."""
    with zipfile.ZipFile(results) as archive:
        plan = plan_pull(archive, destination, inputs=inputs, downloads=[], exclusions=[])
        return [extract(archive, member, destination) for member in plan.extract]


@pytest.mark.parametrize("gap", [0, 256 * 1024], ids=["a-get-per-member", "members-joined"])
def test_ranged_pull_writes_the_tree_zipfile_writes(
    tmp_path: Path, s3: Any, gap: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(download, "MAX_GAP", gap)
    monkeypatch.setattr(download, "PIECE", 4096)  # members cross many reads
    root = make_build(tmp_path / "build")
    results, version = put_results(s3, root, tmp_path)
    with zipfile.ZipFile(results) as archive:
        inputs = {name: crc for name, crc in member_crcs(archive).items() if not name.endswith(".json")}
        inputs.pop("results/empty.txt")
        inputs.pop("results/stored.bin")

    for uploaded_inputs in (None, inputs):
        ours, theirs = tmp_path / f"ours-{bool(uploaded_inputs)}", tmp_path / f"theirs-{bool(uploaded_inputs)}"
        written = ranged_pull(s3, version, ours, uploaded_inputs)
        expected = zipfile_pull(results, theirs, uploaded_inputs)
        assert tree(ours) == tree(theirs)
        assert sorted(p.relative_to(ours) for p in written) == sorted(p.relative_to(theirs) for p in expected)
    # Given the upload's CRCs, only what the run produced is written.
    assert all(name.endswith(".json") or name.startswith("results/") for name in tree(tmp_path / "ours-True"))
    assert not list((tmp_path / "ours-True").rglob("*.nsclient-partial"))


def test_ranged_repull_of_unchanged_results_fetches_no_member(tmp_path: Path, s3: Any) -> None:
    root = make_build(tmp_path / "build", files=20)
    _, version = put_results(s3, root, tmp_path)
    destination = tmp_path / "pulled"
    assert ranged_pull(s3, version, destination, None)
    before = tree(destination)
    (destination / "data" / "sample0003.json").write_text("changed here")

    with open_s3_object(s3, BUCKET, "runs/r/workdir.zip", version) as handle, zipfile.ZipFile(handle) as results:
        plan = plan_pull(results, destination, inputs=None, downloads=[], exclusions=[])
    assert [m.filename for m in plan.extract] == ["data/sample0003.json"]
    assert ranged_pull(s3, version, destination, None) == [destination / "data" / "sample0003.json"]
    assert tree(destination) == before
    assert ranged_pull(s3, version, destination, None) == []


def test_repull_of_results_the_folder_still_holds_reads_only_their_head(
    tmp_path: Path, s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEXTSTRAIN_HOME", str(tmp_path / "home"))
    root = make_build(tmp_path / "build", files=20)
    put_results(s3, root, tmp_path)
    destination = tmp_path / "pulled"

    def pull() -> tuple[list[str], list[Path], PullPlan]:
        calls: list[str] = []

        def record(event_name: str, **_: Any) -> None:
            calls.append(event_name.rsplit(".", 1)[-1])

        s3.meta.events.register("before-call.s3", record)
        try:
            plan, written = pull_workdir(s3, BUCKET, "runs/r/workdir.zip", destination, [], [], quiet=True)
        finally:
            s3.meta.events.unregister("before-call.s3", record)
        return calls, written, plan

    _, written, _ = pull()
    assert written
    pulled = tree(destination)

    calls, written, plan = pull()
    assert (calls, written) == (["HeadObject"], [])
    assert plan.unchanged == len(pulled)

    # Edited (same size, new time), deleted: each is noticed and written again from the archive.
    edited = destination / "data" / "sample0003.json"
    edited.write_text(edited.read_text().swapcase())
    (destination / "results" / "stored.bin").unlink()
    calls, written, _ = pull()
    assert "GetObject" in calls
    assert sorted(written) == [destination / "data" / "sample0003.json", destination / "results" / "stored.bin"]
    assert tree(destination) == pulled

    # New results (another version of the object) are planned from their own directory.
    (root / "data" / "sample0001.tsv").write_text("strain\tdate\nother\t2026-02-01\n")
    put_results(s3, root, tmp_path)
    _, written, _ = pull()
    assert written == [destination / "data" / "sample0001.tsv"]

    # Another selection is not that state: it plans from the archive and writes what it selects anew.
    (destination / "data" / "sample0001.tsv").unlink()
    plan, written = pull_workdir(s3, BUCKET, "runs/r/workdir.zip", destination, ["data/*.tsv"], [], quiet=True)
    assert written == [destination / "data" / "sample0001.tsv"]


def test_pull_tells_the_upload_from_results_stored_within_the_same_second(
    tmp_path: Path, s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """S3 gives LastModified in whole seconds: a quick run's results can share the upload's second. The
    upload is the version S3 lists last, so pull still writes what the run produced, and only that."""
    import moto.s3.models

    ticks = itertools.count(1)  # a millisecond apart, all within one second
    monkeypatch.setattr(
        moto.s3.models, "utcnow", lambda: datetime(2026, 12, 5, 3) + timedelta(milliseconds=next(ticks))
    )
    monkeypatch.setenv("NEXTSTRAIN_HOME", str(tmp_path / "home"))
    root = make_build(tmp_path / "build", files=10)
    upload = tmp_path / "upload.zip"
    with upload.open("wb") as handle:
        zip_stream(upload_members(root), handle.write)
    s3.upload_file(str(upload), BUCKET, "runs/r/workdir.zip")
    put_results(s3, root, tmp_path)
    listed = s3.list_object_versions(Bucket=BUCKET, Prefix="runs/r/workdir.zip")["Versions"]
    assert len({v["LastModified"] for v in listed}) == 1  # the tie S3 can show

    destination = tmp_path / "pulled"
    plan, written = pull_workdir(s3, BUCKET, "runs/r/workdir.zip", destination, [], [], quiet=True)
    produced = {p.relative_to(destination).as_posix() for p in written}
    assert produced == {"results/empty.txt", "results/stored.bin"} | {f"data/sample{i:04d}.json" for i in range(10)}
    assert set(tree(destination)) == produced


def test_data_that_does_not_shrink_is_stored_as_it_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Already compressed inputs (told from their bytes, whatever their names) are stored, not deflated
    again; a file that stops shrinking part way costs only deflate's stored-block framing there."""
    import lzma

    monkeypatch.setattr(zipstream, "CHUNK_SIZE", 256 * 1024)
    rng = random.Random(8)
    root = tmp_path / "build"
    (root / "data").mkdir(parents=True)
    (root / "Snakefile").write_text("rule all:\n    input: []\n")
    diverse = bytes(rng.choice(b"ACGT") for _ in range(3_000_000))
    (root / "data" / "sequences.fasta.xz").write_bytes(lzma.compress(b">s\n" + diverse, preset=0))
    (root / "data" / "reads.bin").write_bytes(rng.randbytes(700_000))  # no telling name
    text = "".join(f"s{i}\t2026-01-{i % 28 + 1:02d}\tcountry{i % 60}\n" for i in range(40_000)).encode()
    (root / "data" / "mixed.tsv").write_bytes(text[:300_000] + rng.randbytes(600_000))
    (root / "data" / "metadata.tsv").write_bytes(text)
    path = tmp_path / "build.zip"
    with path.open("wb") as handle:
        zip_stream(upload_members(root), handle.write)

    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None
        members = {m.filename: m for m in archive.infolist()}
        assert {name: archive.read(m) for name, m in members.items()} == {
            name: (root / name).read_bytes() for _, name in upload_members(root)
        }
    for name in ("data/sequences.fasta.xz", "data/reads.bin"):
        assert members[name].compress_type == zipfile.ZIP_STORED
        assert members[name].compress_size == members[name].file_size
    mixed = members["data/mixed.tsv"]
    assert mixed.compress_type == zipfile.ZIP_DEFLATED
    random_tail = 600_000
    assert mixed.compress_size < 100_000 + random_tail * 1.001  # the random part as is, plus framing
    assert members["data/metadata.tsv"].compress_size < members["data/metadata.tsv"].file_size / 3
    if shutil.which("unzip"):
        checked = subprocess.run(["unzip", "-t", str(path)], capture_output=True, text=True)
        assert checked.returncode == 0, checked.stdout


def test_push_walks_the_folder_while_compressing_it_and_counts_its_total_as_it_goes(tmp_path: Path) -> None:
    from rich.console import Console

    from nsclient.transfer.push import counted

    root = make_build(tmp_path / "build", files=20)
    sizes = sum(path.stat().st_size for path, _ in upload_members(root))
    assert sizes > 8_000_000  # large enough for plain quarter lines
    shown = io.StringIO()
    progress = Progress("Uploading build", 0, console=Console(file=shown, force_terminal=False, width=200))
    members = counted(upload_members(root), progress)
    first = next(members)
    assert 0 < progress.total < sizes  # the first file is on its way before the walk is over

    with (tmp_path / "build.zip").open("wb") as handle:
        zip_stream(itertools.chain([first], members), handle.write, written=progress.update)
    progress.finish()
    assert progress.total == sizes
    quarters = [line for line in shown.getvalue().splitlines() if "% of" in line]
    assert [line.split(": ")[1].split("%")[0] for line in quarters] == ["25", "50", "75", "100"]
    assert quarters[-1] == f"Uploading build: 100% of {size(sizes)}"  # the size as sizes read everywhere


@pytest.mark.parametrize("named", ["recorded", "expired"])
def test_pull_reads_the_inputs_from_the_version_the_record_names(
    tmp_path: Path, s3: Any, monkeypatch: pytest.MonkeyPatch, named: str
) -> None:
    """The record names the upload's version: pull reads it without listing versions. A version that is
    gone (or wrong) is as a record that names none: the versions are listed."""
    monkeypatch.setenv("NEXTSTRAIN_HOME", str(tmp_path / "home"))
    root = make_build(tmp_path / "build", files=10)
    upload = tmp_path / "upload.zip"
    with upload.open("wb") as handle:
        zip_stream(upload_members(root), handle.write)
    uploaded = s3.put_object(Bucket=BUCKET, Key="runs/r/workdir.zip", Body=upload.read_bytes())["VersionId"]
    put_results(s3, root, tmp_path)
    calls: list[str] = []
    s3.meta.events.register("before-call.s3", lambda event_name, **_: calls.append(event_name.rsplit(".", 1)[-1]))

    version = uploaded if named == "recorded" else "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"
    destination = tmp_path / "pulled"
    _, written = pull_workdir(s3, BUCKET, "runs/r/workdir.zip", destination, [], [], True, input_version=version)
    assert {p.relative_to(destination).as_posix() for p in written} == {
        "results/empty.txt",
        "results/stored.bin",
    } | {f"data/sample{i:04d}.json" for i in range(10)}
    assert ("ListObjectVersions" in calls) == (named == "expired")
