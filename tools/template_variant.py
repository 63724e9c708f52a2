"""Write a template as JSON with some parameter defaults replaced.

For checkers that evaluate a template with its parameters' defaults (checkov): resources behind a
condition, such as the Batch setup that CreateBatchEnvironment=true creates, are only checked in a
copy whose defaults take that shape.

    python tools/template_variant.py template.yaml --output OUT.json CreateBatchEnvironment=true
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from nsclient.local.template import load_template


def with_defaults(template: dict, defaults: list[str]) -> dict:
    """The template with each NAME=VALUE as the default of parameter NAME."""
    parameters = template.get("Parameters", {})
    for item in defaults:
        name, equals, value = item.partition("=")
        if not equals or name not in parameters:
            raise ValueError(f"{item!r} is not NAME=VALUE for a parameter of the template")
        parameters[name]["Default"] = value
    return template


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("template", type=Path)
    parser.add_argument("defaults", nargs="+", metavar="NAME=VALUE")
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        variant = with_defaults(load_template(args.template), args.defaults)
    except ValueError as error:
        print(f"Error: {error}.", file=sys.stderr)
        return 1
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(variant, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
