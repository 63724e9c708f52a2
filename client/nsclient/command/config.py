"""Show the effective settings and where each comes from (option, environment, config file, default)."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

from nsclient import config
from nsclient.backend import chosen_kind
from nsclient.command.common import add_parser
from nsclient.paths import config_file

if TYPE_CHECKING:
    import argparse

EXAMPLES = """
  nsclient config
  NEXTSTRAIN_AWS_BATCH_CPUS=8 nsclient config --json
"""


def register_parser(subparsers: Any, parent: argparse.ArgumentParser) -> None:
    parser = add_parser(subparsers, sys.modules[__name__], parent, EXAMPLES)
    parser.add_argument("--json", dest="json", action="store_true")


def run(opts: argparse.Namespace) -> int:
    settings = [
        config.resolve(section, key, opts.backend if key == "backend" else None) for section, key in config.ALL_KEYS
    ]
    effective_backend = chosen_kind(opts.backend)
    if opts.json:
        rows = [{"section": s.section, "key": s.key, "value": s.value, "source": s.source} for s in settings]
        print(json.dumps({"config_file": str(config_file()), "backend": effective_backend, "settings": rows}, indent=2))
        return 0
    print(f"Config file: {config_file()}")
    print(f"Backend in use: {effective_backend}")
    for s in settings:
        print(f"  [{s.section}] {s.key:<14} {s.value or '-':<50} ({s.source}; env {config.env_name(s.section, s.key)})")
    return 0
