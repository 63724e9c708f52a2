"""Point nsclient at a deployed stack: read its outputs into ~/.nextstrain/config.

Writes only nsclient's own section, [nsclient]: backend = aws, stack, region, bucket, queue,
state-machine, topic, and the most cpus and memory a run may ask for (max-cpus, max-memory-mib).
The Nextstrain CLI's [aws-batch] keys are left exactly as they are: their
s3-bucket is that tool's jobs bucket, which `nextstrain build --aws-batch` goes on using.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import boto3

from nsclient import config
from nsclient.command.common import add_parser, info
from nsclient.errors import UserError
from nsclient_common.settings import Limits

EXAMPLES = """
  sam deploy --guided               # once, creates the stack (default name: nsclient)
  nsclient setup --stack nsclient
  nsclient setup --stack nsclient --region eu-west-1
"""
# Stack output -> [nsclient] key.
OUTPUTS = {
    "BucketName": "bucket",
    "JobQueueName": "queue",
    "StateMachineArn": "state-machine",
    "TopicArn": "topic",
}


def limit_settings(outputs: dict[str, str]) -> dict[str, str]:
    """The stack's limits on what a run may ask for, as [nsclient] keys (push checks requests against them)."""
    if "RunMaxCpus" not in outputs or "RunMaxMemoryMiB" not in outputs:
        return {}  # a stack deployed before it published them: the backend alone judges
    limits = Limits(
        max_cpus=int(outputs["RunMaxCpus"]),
        max_memory_mib=int(outputs["RunMaxMemoryMiB"]),
        compute_max_vcpus=int(outputs["RunComputeMaxVcpus"]) if outputs.get("RunComputeMaxVcpus") else None,
    )
    settings = {"max-cpus": str(limits.accepted_cpus), "max-memory-mib": str(limits.max_memory_mib)}
    if "NotifyAllowed" in outputs:  # the addresses the stack emails notices to (push refuses others)
        settings["notify-allowed"] = outputs["NotifyAllowed"]
    return settings


def register_parser(subparsers: Any, parent: argparse.ArgumentParser) -> None:
    parser = add_parser(subparsers, sys.modules[__name__], parent, EXAMPLES)
    parser.add_argument("--stack", dest="stack", metavar="<name>", required=True, help="The CloudFormation stack name")
    parser.add_argument("--region", dest="region", metavar="<region>", help="Its region (default: your AWS config's)")
    parser.add_argument("--endpoint-url", dest="endpoint_url", metavar="<url>", help=argparse.SUPPRESS)


def run(opts: argparse.Namespace) -> int:
    session = boto3.session.Session(region_name=opts.region)
    region = opts.region or session.region_name or "us-east-1"
    cloudformation = session.client("cloudformation", region_name=region, endpoint_url=opts.endpoint_url)
    try:
        stacks = cloudformation.describe_stacks(StackName=opts.stack)["Stacks"]
    except cloudformation.exceptions.ClientError as error:
        raise UserError(
            f"Can't read stack {opts.stack!r} in {region}: {error}. Deploy it with `sam deploy --guided`."
        ) from None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    missing = [name for name in ("BucketName", "StateMachineArn") if name not in outputs]
    if missing:
        raise UserError(f"Stack {opts.stack!r} has no {', '.join(missing)} output: is it an nsclient stack?")
    values = {key: outputs[name] for name, key in OUTPUTS.items() if name in outputs}
    values |= limit_settings(outputs)
    values |= {"backend": "aws", "stack": opts.stack, "region": region}
    path = config.write_settings(values)
    for key, value in sorted(values.items()):
        info(f"[{config.OWN_SECTION}] {key} = {value}", opts.quiet)
    info(f"Saved to {path}. nsclient now uses stack {opts.stack} ({region}).", opts.quiet)
    return 0
