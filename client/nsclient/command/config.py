"""Show the effective settings: each value, where it comes from, and what would override it.

The first of these that has a value wins: command-line option, environment variable, the config file
(~/.nextstrain/config, or NEXTSTRAIN_CONFIG / NEXTSTRAIN_HOME), built-in default.
"""

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
    path = config_file()
    if opts.json:
        rows = [
            {
                "section": s.section,
                "key": s.key,
                "value": s.value,
                "source": s.source,
                "origin": s.origin,
                "overridden_by": s.overridden_by(),
            }
            for s in settings
        ]
        document = {"config_file": str(path) if path.is_file() else None, "backend": effective_backend}
        print(json.dumps(document | {"settings": rows}, indent=2))
        return 0
    print(f"Config file: {path}" if path.is_file() else f"Config file: none ({path} does not exist)")
    print(f"Backend in use: {effective_backend}")
    for s in settings:
        overrides = s.overridden_by()
        print(f"  [{s.section}] {s.key:<14} {s.value or '-'}")
        print(f"      from: {s.origin}")
        if overrides:
            print(f"      {'overridden by' if s.value else 'set by'}: {', '.join(overrides)}")
    return 0
