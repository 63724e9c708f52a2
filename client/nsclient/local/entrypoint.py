"""The nextstrain/base image's /sbin/entrypoint-aws-batch, for a Batch job run as a local process.

Same contract: download NEXTSTRAIN_AWS_BATCH_WORKDIR_URL (a zip on S3), unzip it as the build
directory, run the command there, zip the results back to the same URL (keeping only
.snakemake/{log,metadata,storage} of snakemake's state), and exit with the command's status.
Usage: python -m nsclient.local.entrypoint env --chdir /nextstrain/build -- snakemake ...
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path, PurePosixPath
from urllib.parse import urlparse

import boto3

BUILD_DIR = "/nextstrain/build"
WORKDIR_URL_VAR = "NEXTSTRAIN_AWS_BATCH_WORKDIR_URL"
_KEPT_SNAKEMAKE_STATE = (".snakemake/log/", ".snakemake/metadata/", ".snakemake/storage/")


def _s3() -> object:
    return boto3.client("s3", endpoint_url=os.environ.get("AWS_ENDPOINT_URL"))


def extract(archive_path: Path, build: Path) -> None:
    with zipfile.ZipFile(archive_path) as archive:
        for member in archive.infolist():
            parts = PurePosixPath(member.filename).parts
            if member.filename.startswith("/") or ".." in parts:
                raise SystemExit(f"refusing unsafe member {member.filename!r}")
            archive.extract(member, build)


def _returned(relative: str) -> bool:
    if relative.startswith(".snakemake/"):
        return relative.startswith(_KEPT_SNAKEMAKE_STATE)
    return True


def pack(build: Path, archive_path: Path) -> int:
    count = 0
    with zipfile.ZipFile(archive_path, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(build.rglob("*")):
            relative = path.relative_to(build).as_posix()
            if path.is_file() and not path.is_symlink() and _returned(relative):
                archive.write(path, relative)
                count += 1
    return count


def main(argv: list[str]) -> int:
    url = os.environ.get(WORKDIR_URL_VAR, "")
    parsed = urlparse(url)
    if parsed.scheme != "s3" or not parsed.path.endswith(".zip"):
        print(f"entrypoint-aws-batch: {WORKDIR_URL_VAR} must be an s3://....zip URL, not {url!r}", file=sys.stderr)
        return 1
    bucket, key = parsed.netloc, parsed.path.lstrip("/")
    s3 = _s3()
    # The job runs the Python environment's own tools (snakemake), as the image has them on PATH.
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    with tempfile.TemporaryDirectory(prefix="nsclient-job-") as scratch:
        build = Path(scratch) / "build"
        build.mkdir()
        archive = Path(scratch) / "build.zip"
        s3.download_file(bucket, key, str(archive))  # type: ignore[attr-defined]
        extract(archive, build)
        command = [arg.replace(BUILD_DIR, str(build), 1) if arg.startswith(BUILD_DIR) else arg for arg in argv]
        print("+ " + " ".join(command), flush=True)
        exited = subprocess.call(command, stdin=subprocess.DEVNULL)
        count = pack(build, archive)
        s3.upload_file(str(archive), bucket, key)  # type: ignore[attr-defined]
        print(f"+ uploaded {count} files to {url}", flush=True)
    return exited


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
