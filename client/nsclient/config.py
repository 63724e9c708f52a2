"""Settings, each from the first place that has it, as the Nextstrain CLI does:

    command-line option > environment variable > ~/.nextstrain/config > built-in default

Nextstrain CLI keys are read where that tool keeps them, so an existing config works unchanged:

    [aws-batch]  s3-bucket, job, queue, cpus, memory   NEXTSTRAIN_AWS_BATCH_{S3_BUCKET,JOB,QUEUE,CPUS,MEMORY}

nsclient's own keys, written by `nsclient setup --stack NAME`:

    [nsclient]   backend (local | aws), stack, state-machine, topic, region   NSCLIENT_{BACKEND,STACK,...}
"""

from __future__ import annotations

import configparser
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from nsclient.paths import config_file

if TYPE_CHECKING:
    from pathlib import Path

DEFAULTS = {
    ("aws-batch", "job"): "nextstrain-job",
    ("aws-batch", "queue"): "nextstrain-job-queue",
}


@dataclass(frozen=True)
class Setting:
    section: str
    key: str
    value: str | None
    source: str  # "option", "env NAME", "config FILE", "default", "unset"


def env_name(section: str, key: str) -> str:
    prefix = "NEXTSTRAIN_AWS_BATCH_" if section == "aws-batch" else "NSCLIENT_"
    return prefix + key.upper().replace("-", "_")


def read_config(path: Path | None = None) -> configparser.ConfigParser:
    parser = configparser.ConfigParser()
    parser.read(path or config_file(), encoding="utf-8")
    return parser


def resolve(
    section: str, key: str, option: str | None = None, config: configparser.ConfigParser | None = None
) -> Setting:
    """One setting and where it came from. Empty values count as unset, as in the Nextstrain CLI."""
    if option not in (None, ""):
        return Setting(section, key, str(option), "option")
    name = env_name(section, key)
    if os.environ.get(name):
        return Setting(section, key, os.environ[name], f"env {name}")
    parser = config if config is not None else read_config()
    value = parser.get(section, key, fallback=None)
    if value:
        return Setting(section, key, value, f"config {config_file()}")
    default = DEFAULTS.get((section, key))
    return Setting(section, key, default, "default" if default else "unset")


def value(section: str, key: str, option: str | None = None) -> str | None:
    return resolve(section, key, option).value


def write_settings(values: dict[tuple[str, str], str], path: Path | None = None) -> Path:
    """Update keys in the config file, keeping everything else in it."""
    target = path or config_file()
    parser = read_config(target)
    for (section, key), setting in values.items():
        if not parser.has_section(section):
            parser.add_section(section)
        parser.set(section, key, setting)
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", encoding="utf-8") as handle:
        parser.write(handle)
    return target


ALL_KEYS = (
    ("nsclient", "backend"),
    ("nsclient", "stack"),
    ("nsclient", "region"),
    ("nsclient", "state-machine"),
    ("nsclient", "topic"),
    ("aws-batch", "s3-bucket"),
    ("aws-batch", "job"),
    ("aws-batch", "queue"),
    ("aws-batch", "cpus"),
    ("aws-batch", "memory"),
)
