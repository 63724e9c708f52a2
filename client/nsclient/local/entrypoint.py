"""The stock nextstrain/base image's job start-up, for a Batch job run as a local process.

A Batch job's command goes through the image's ENTRYPOINT, /sbin/entrypoint, which chains
create-envd (unzip the env.d archive at NEXTSTRAIN_ENVD_URL into /nextstrain/env.d), envdir
/nextstrain/env.d (export its variables), delete-envd (with NEXTSTRAIN_DELETE_ENVD=1|yes|true,
empty /nextstrain/env.d and delete the archive), chdir-workdir (NEXTSTRAIN_WORKDIR) and then the
command, here /sbin/entrypoint-aws-batch: in the working folder (the image's WORKDIR,
/nextstrain/build) download NEXTSTRAIN_AWS_BATCH_WORKDIR_URL to $PWD.zip, `unzip -: -o` it, run
the command, `zip -u` the folder into the same zip (all but .snakemake/, then .snakemake/log,
metadata and storage), upload it back and exit with the command's status. Its steps are traced
(`set -x`) unless NEXTSTRAIN_AWS_BATCH_VERBOSE=0; a failed step ends the job (`set -e`).

The container's / is the folder NSCLIENT_JOB_ROOT (made and removed by the local Batch runtime),
so /nextstrain/build is NSCLIENT_JOB_ROOT/nextstrain/build and arguments naming /nextstrain/...
are mapped there. Zips are handled as Info-ZIP does (infozip.py), with no zip tools needed.
Usage: python -m nsclient.local.entrypoint env --chdir /nextstrain/build -- snakemake ...
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from nsclient.local import infozip
from nsclient.local.jobcgroup import run_measured
from nsclient_common.buildfolder import KEPT_SNAKEMAKE_STATE, SNAKEMAKE_STATE
from nsclient_common.envdir import decode_value
from nsclient_common.submitjob import BUILD_DIR, DELETE_ENVD_VAR, ENVD_URL_VAR, WORKDIR_URL_VAR

if TYPE_CHECKING:
    from types_boto3_s3 import S3Client

ROOT_VAR = "NSCLIENT_JOB_ROOT"
VERBOSE_VAR = "NEXTSTRAIN_AWS_BATCH_VERBOSE"
WORKDIR_VAR = "NEXTSTRAIN_WORKDIR"
CONTAINER_DIR = "/nextstrain"
ENVD_DIR = f"{CONTAINER_DIR}/env.d"
# `zip -u` twice: everything but snakemake's state, then the parts of it a user pulls.
RETURN_EXCLUDED = f"{SNAKEMAKE_STATE}*"
RETURN_INCLUDED = tuple(f"{kept}*" for kept in KEPT_SNAKEMAKE_STATE)


class StepFailed(Exception):
    """A step of the image's scripts failed (under `set -e` the job ends with status 1)."""


def returned(name: str) -> bool:
    """Whether the two `zip -u` runs put this name (zip's wildcards cross /) into the results zip."""
    return not fnmatch.fnmatchcase(name, RETURN_EXCLUDED) or any(
        fnmatch.fnmatchcase(name, pattern) for pattern in RETURN_INCLUDED
    )


class Container:
    """The paths of the job's container, inside the local folder standing for its /."""

    def __init__(self, root: Path):
        self.root = root

    def path(self, container_path: str) -> Path:
        return self.root / container_path.lstrip("/")

    def map_argument(self, argument: str) -> str:
        if argument == CONTAINER_DIR or argument.startswith(CONTAINER_DIR + "/"):
            return str(self.path(argument))
        return argument

    def shown(self, path: Path) -> str:
        return "/" + path.relative_to(self.root).as_posix()


def _trace(verbose: bool, *words: str) -> None:
    if verbose:
        print("+ " + " ".join(words), flush=True)


def _s3() -> S3Client:
    region = boto3.session.Session().region_name  # from the environment or ~/.aws/config, as the AWS CLI finds it
    if not region:
        raise StepFailed('You must specify a region. You can also configure your region by running "aws configure".')
    client: S3Client = boto3.client("s3", endpoint_url=os.environ.get("AWS_ENDPOINT_URL"), region_name=region)
    return client


def _s3_location(url: str) -> tuple[str, str] | None:
    parsed = urlparse(url)
    return (parsed.netloc, parsed.path.lstrip("/")) if parsed.scheme == "s3" else None


def _download(url: str, to: Path, shown: str) -> None:
    location = _s3_location(url)
    assert location is not None
    try:
        _s3().download_file(*location, str(to))
    except (ClientError, BotoCoreError) as error:
        raise StepFailed(f"fatal error: {error}") from None
    print(f"download: {url} to {shown}", flush=True)


def create_envd(container: Container) -> None:
    """create-envd: an env.d folder always; the archive's variables in it when there is one."""
    envd = container.path(ENVD_DIR)
    envd.mkdir(parents=True, exist_ok=True)
    url = os.environ.get(ENVD_URL_VAR)
    if not url:
        return
    if _s3_location(url) is None or not url.endswith(".zip"):
        raise StepFailed(f"create-envd: No handler for {ENVD_URL_VAR} <{url}>")
    archive = container.path(ENVD_DIR + ".zip")
    _download(url, archive, container.shown(archive))
    infozip.extract_all(archive, envd, say=lambda line: print(line.replace(str(envd), ENVD_DIR), flush=True))
    archive.unlink()
    print(f"removed '{container.shown(archive)}'", flush=True)


def export_envd(container: Container) -> None:
    """envdir /nextstrain/env.d: each file sets its variable, an empty one unsets it."""
    for path in sorted(container.path(ENVD_DIR).iterdir()):
        if not path.is_file():
            continue
        value = decode_value(path.read_bytes())
        if value is None:
            os.environ.pop(path.name, None)
        else:
            os.environ[path.name] = value


def delete_envd(container: Container) -> None:
    """delete-envd: with NEXTSTRAIN_DELETE_ENVD, the values stay only in the processes' memory."""
    if os.environ.get(DELETE_ENVD_VAR) not in ("1", "yes", "true"):
        return
    for path in container.path(ENVD_DIR).iterdir():
        shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
    url = os.environ.get(ENVD_URL_VAR)
    if not url:
        return
    location = _s3_location(url)
    if location is None:
        raise StepFailed(f"delete-envd: No handler for {ENVD_URL_VAR} <{url}>")
    try:
        _s3().delete_object(Bucket=location[0], Key=location[1])
    except (ClientError, BotoCoreError) as error:
        raise StepFailed(f"delete failed: {url} {error}") from None
    print(f"delete: {url}", flush=True)


def working_folder(container: Container) -> Path:
    """The image's WORKDIR, or NEXTSTRAIN_WORKDIR (chdir-workdir), made if missing."""
    folder = container.path(os.environ.get(WORKDIR_VAR) or BUILD_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def exit_status(returncode: int) -> int:
    """As bash reports a command's status: 128+N for one ended by signal N."""
    return 128 - returncode if returncode < 0 else returncode


def run_command(command: list[str], cwd: Path) -> int:
    try:
        # As a container, the job gets a cgroup of its own for the build's measuring script to read.
        return exit_status(run_measured(command, cwd))
    except FileNotFoundError:
        print(f"{command[0]}: command not found", file=sys.stderr, flush=True)
        return 127
    except PermissionError:
        print(f"{command[0]}: Permission denied", file=sys.stderr, flush=True)
        return 126


def entrypoint_aws_batch(container: Container, argv: list[str]) -> int:
    verbose = os.environ.get(VERBOSE_VAR, "1") != "0"
    url = os.environ.get(WORKDIR_URL_VAR, "")
    location = _s3_location(url)
    if location is None or not url.endswith(".zip"):
        # The image syncs a non-zip s3:// folder; nsclient's layout always gives a zip.
        raise StepFailed(f"entrypoint-aws-batch: No handler for {WORKDIR_URL_VAR} <{url}>")
    cwd = working_folder(container)
    archive = Path(f"{cwd}.zip")
    _trace(verbose, "aws", "s3", "cp", "--no-progress", url, container.shown(archive))
    _download(url, archive, container.shown(archive))
    _trace(verbose, "unzip", "-:", "-o", container.shown(archive))
    infozip.extract_all(archive, cwd, say=lambda line: print(line, flush=True))
    _trace(verbose, *argv)
    exited = run_command([container.map_argument(argument) for argument in argv], cwd)
    _trace(verbose, "zip", "-u", container.shown(archive), "-r", ".", "--exclude", RETURN_EXCLUDED)
    _trace(verbose, "zip", "-u", container.shown(archive), "-r", ".", "--include", *RETURN_INCLUDED)
    infozip.update(archive, cwd, returned, say=lambda line: print(line, flush=True))
    _trace(verbose, "aws", "s3", "cp", "--no-progress", container.shown(archive), url)
    try:
        _s3().upload_file(str(archive), *location)
    except (ClientError, BotoCoreError, boto3.exceptions.S3UploadFailedError) as error:
        raise StepFailed(f"upload failed: {container.shown(archive)} to {url} {error}") from None
    print(f"upload: {container.shown(archive)} to {url}", flush=True)
    _trace(verbose, "exit", str(exited))
    return exited


def main(argv: list[str]) -> int:
    # The job runs the Python environment's own tools (snakemake), as the image has them on PATH.
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    given = os.environ.get(ROOT_VAR)
    # The local backend gives the job its scratch folder (and removes it however the job ends); run alone, make one.
    with contextlib.nullcontext(given) if given else tempfile.TemporaryDirectory(prefix="nsclient-job-") as scratch:
        container = Container(Path(scratch))
        try:
            create_envd(container)
            export_envd(container)
            delete_envd(container)
            return entrypoint_aws_batch(container, argv)
        except StepFailed as error:
            print(error, file=sys.stderr, flush=True)
            return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
