"""Settings, each from the first place that has it, as the Nextstrain CLI does:

    command-line option > environment variable > ~/.nextstrain/config > built-in default

The Nextstrain CLI's default resources are read where that tool keeps them, and never written:

    [aws-batch]  cpus, memory   NEXTSTRAIN_AWS_BATCH_{CPUS,MEMORY}

Its other [aws-batch] keys (s3-bucket, queue, job) name that tool's own jobs bucket and Batch setup, which
`nextstrain build --aws-batch` goes on using, so they are not ours to read or change. nsclient's own keys,
written by `nsclient setup --stack NAME` to its own section only:

    [nsclient]   backend (local | aws), stack, region, bucket, queue, state-machine, topic, notify,
                 max-cpus, max-memory-mib (the stack's limits on what a run may ask for)
                 NSCLIENT_{BACKEND,STACK,...}
"""

from __future__ import annotations

import configparser
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from configupdater import ConfigUpdater

from nsclient.paths import config_file
from nsclient_common.settings import DEFAULT_JOB_QUEUE

if TYPE_CHECKING:
    from pathlib import Path

# The section nsclient owns: the only one it ever writes.
OWN_SECTION = "nsclient"

# The stack's own default for an existing Nextstrain Batch setup (template.yaml JobQueue).
DEFAULTS = {
    (OWN_SECTION, "queue"): DEFAULT_JOB_QUEUE,
}


@dataclass(frozen=True)
class Setting:
    section: str
    key: str
    value: str | None
    source: str  # "option", "env NAME", "config FILE", "default", "unset"

    @property
    def origin(self) -> str:
        """Where the value comes from, in words."""
        if self.source.startswith("env "):
            return f"environment variable {self.source.removeprefix('env ')}"
        if self.source.startswith("config "):
            return f"[{self.section}] {self.key} in {self.source.removeprefix('config ')}"
        return {"option": "command-line option", "default": "built-in default"}.get(self.source, "not set")

    def overridden_by(self) -> list[str]:
        """What would take the place of this value: each layer above the one it comes from."""
        layers = [("option", OPTIONS.get((self.section, self.key))), ("env", env_name(self.section, self.key))]
        layers.append(("config", f"[{self.section}] {self.key} in {config_file()}"))
        rank = {"option": 0, "env": 1, "config": 2}.get(self.source.split(" ", 1)[0], 3)
        return [name for layer, name in layers[:rank] if name]


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


def write_settings(values: dict[str, str], path: Path | None = None) -> Path:
    """Set keys of the [nsclient] section. Every other byte of the file (other tools' sections, comments,
    layout) is written back as it was read, so the Nextstrain CLI's own settings stay exactly its own."""
    target = path or config_file()
    updater = ConfigUpdater()
    if target.exists():
        updater.read(target, encoding="utf-8")
    if not updater.has_section(OWN_SECTION):
        if updater.sections() and not str(updater).endswith("\n\n"):
            updater.section_blocks()[-1].add_after.space()
        updater.add_section(OWN_SECTION)
    section = updater[OWN_SECTION]
    for key, setting in values.items():
        section[key] = setting
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(str(updater), encoding="utf-8")
    return target


# The command-line options that set a key, for saying what would override a value.
OPTIONS = {
    (OWN_SECTION, "backend"): "--backend",
    (OWN_SECTION, "notify"): "push --notify",
    ("aws-batch", "cpus"): "push --cpus",
    ("aws-batch", "memory"): "push --memory",
}

ALL_KEYS = (
    (OWN_SECTION, "backend"),
    (OWN_SECTION, "stack"),
    (OWN_SECTION, "region"),
    (OWN_SECTION, "bucket"),
    (OWN_SECTION, "queue"),
    (OWN_SECTION, "state-machine"),
    (OWN_SECTION, "topic"),
    (OWN_SECTION, "notify"),
    (OWN_SECTION, "max-cpus"),
    (OWN_SECTION, "max-memory-mib"),
    ("aws-batch", "cpus"),
    ("aws-batch", "memory"),
)
