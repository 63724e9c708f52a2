"""The nextstrain/base image's /sbin/entrypoint-aws-batch, for a Batch job run as a local process.

First, as the image's own entrypoint does before it: with NEXTSTRAIN_ENVD_URL (an s3://....zip
env.d), export its variables to everything after, and with NEXTSTRAIN_DELETE_ENVD=1 delete it.
Like the image's AWS CLI, nothing is downloaded without a region (AWS_DEFAULT_REGION).
Then the same contract: download NEXTSTRAIN_AWS_BATCH_WORKDIR_URL (a zip on S3), unzip it as the build
directory, run the command there, zip the results back to the same URL (keeping only
.snakemake/{log,metadata,storage} of snakemake's state), and exit with the command's status.
Usage: python -m nsclient.local.entrypoint env --chdir /nextstrain/build -- snakemake ...
"""

from __future__ import annotations

import os
import sys
import tempfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlparse

import boto3

from nsclient.local.jobcgroup import run_measured
from nsclient_common.envdir import Env, archive_items, decode_value
from nsclient_common.jobspec import DELETE_ENVD_VAR, ENVD_URL_VAR

BUILD_DIR = "/nextstrain/build"
WORKDIR_URL_VAR = "NEXTSTRAIN_AWS_BATCH_WORKDIR_URL"
_KEPT_SNAKEMAKE_STATE = (".snakemake/log/", ".snakemake/metadata/", ".snakemake/storage/")


class NoRegion(Exception):
    pass


def _s3() -> Any:
    region = boto3.session.Session().region_name  # from the environment or ~/.aws/config, as the AWS CLI finds it
    if not region:
        raise NoRegion('You must specify a region. You can also configure your region by running "aws configure".')
    return boto3.client("s3", endpoint_url=os.environ.get("AWS_ENDPOINT_URL"), region_name=region)


def _s3_zip_url(url: str) -> tuple[str, str] | None:
    parsed = urlparse(url)
    if parsed.scheme != "s3" or not parsed.path.endswith(".zip"):
        return None
    return parsed.netloc, parsed.path.lstrip("/")


def read_envd(s3: Any) -> Env:
    """The variables of the env.d at NEXTSTRAIN_ENVD_URL (none without it), deleted once read if asked."""
    url = os.environ.get(ENVD_URL_VAR)
    if not url:
        return {}
    location = _s3_zip_url(url)
    if location is None:
        raise SystemExit(f"create-envd: No handler for {ENVD_URL_VAR} <{url}>")
    bucket, key = location
    data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    env = {name: decode_value(contents) for name, contents in archive_items(data)}
    if os.environ.get(DELETE_ENVD_VAR) in ("1", "yes", "true"):
        s3.delete_object(Bucket=bucket, Key=key)
        print(f"delete: {url}", flush=True)
    return env


def export(env: Env) -> None:
    """As envdir does: set each variable, unset those whose file is empty."""
    for name, value in env.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


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
    try:
        export(read_envd(_s3()))
    except NoRegion as error:
        print(f"create-envd: {error}", file=sys.stderr)
        return 1
    url = os.environ.get(WORKDIR_URL_VAR, "")
    location = _s3_zip_url(url)
    if location is None:
        print(f"entrypoint-aws-batch: {WORKDIR_URL_VAR} must be an s3://....zip URL, not {url!r}", file=sys.stderr)
        return 1
    bucket, key = location
    try:
        s3 = _s3()  # made anew: the variables just exported apply to it, as they do in the image
    except NoRegion as error:
        print(f"entrypoint-aws-batch: {error}", file=sys.stderr)
        return 1
    # The job runs the Python environment's own tools (snakemake), as the image has them on PATH.
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    with tempfile.TemporaryDirectory(prefix="nsclient-job-") as scratch:
        build = Path(scratch) / "build"
        build.mkdir()
        archive = Path(scratch) / "build.zip"
        s3.download_file(bucket, key, str(archive))
        extract(archive, build)
        command = [arg.replace(BUILD_DIR, str(build), 1) if arg.startswith(BUILD_DIR) else arg for arg in argv]
        print("+ " + " ".join(command), flush=True)
        exited = run_measured(command)  # as a container, the job gets a cgroup of its own
        count = pack(build, archive)
        s3.upload_file(str(archive), bucket, key)
        print(f"+ uploaded {count} files to {url}", flush=True)
    return exited


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
