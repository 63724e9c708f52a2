"""`nsclient local env` gives a shell what the AWS CLI and boto3 need to reach the local backend as its
person; a zip dropped into their inbox with it is their run, and the run shows what it asked for even
when the backend rejects it."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import PurePosixPath

from nsclient_common.runid import run_id_for_upload
from tests.client.helpers import USER_SETTINGS, Cli
from tests.support import SNAKEFILE_OK, Backend, zip_bytes

# Drops the zip on stdin into $NSCLIENT_LOCAL_INBOX with nothing but the environment, as a script would.
DROP = """
import json, os, sys, boto3
bucket, _, prefix = os.environ["NSCLIENT_LOCAL_INBOX"].removeprefix("s3://").partition("/")
key = prefix + "dropped-by-boto3.zip"
sent = boto3.client("s3").put_object(
    Bucket=bucket, Key=key, Body=sys.stdin.buffer.read(), Metadata={"cpus": "1000", "memory": "2GiB"}
)
print(json.dumps({"key": key, "version": sent["VersionId"]}))
"""


def exported(lines: str) -> tuple[dict[str, str], list[str]]:
    """The variables `export`ed and those `unset` by these shell lines."""
    exports: dict[str, str] = {}
    unset: list[str] = []
    for line in lines.splitlines():
        words = shlex.split(line)
        if words[0] == "export":
            name, _, value = words[1].partition("=")
            exports[name] = value
        elif words[0] == "unset":
            unset += words[1:]
    return exports, unset


def test_local_env_lets_boto3_drop_a_zip_that_runs_and_shows_its_request(
    local_cli: Cli, local_backend: Backend
) -> None:
    shown = local_cli.process("local", "env")
    assert shown.code == 0, shown.err
    exports, unset = exported(shown.out)
    assert exports["AWS_ENDPOINT_URL"] == local_backend.info.endpoint_url
    assert exports["NSCLIENT_LOCAL_BUCKET"] == local_backend.info.bucket
    assert {"AWS_PROFILE", "AWS_SESSION_TOKEN"} <= set(unset)
    # A shell with none of a developer's own AWS settings, as after `eval "$(nsclient local env)"`.
    shell = {name: value for name, value in local_cli.subprocess_env().items() if not name.startswith("AWS_")}
    shell = {name: value for name, value in shell.items() if name not in USER_SETTINGS} | exports

    dropped = subprocess.run(
        [sys.executable, "-c", DROP],
        input=zip_bytes({"Snakefile": SNAKEFILE_OK}),
        env=shell,
        capture_output=True,
        timeout=60,
        check=False,
    )

    assert dropped.returncode == 0, dropped.stderr.decode()
    upload = json.loads(dropped.stdout)
    person = local_backend.client_as("sts", local_backend.user).get_caller_identity()["UserId"]
    assert PurePosixPath(upload["key"]).parent.name == person
    run_id = run_id_for_upload(upload["key"], upload["version"])
    record = local_backend.wait_for_record(run_id, timeout=120)
    assert (record.status.value, record.owner) == ("REJECTED", person)
    status = local_cli.process("status", run_id)
    assert status.code == 0, status.err
    lines = dict(line.split(":", 1) for line in status.out.splitlines())
    assert lines["Status"].strip() == "REJECTED"
    assert lines["Resources"].strip() == "1000 cpu, 2 GiB"
