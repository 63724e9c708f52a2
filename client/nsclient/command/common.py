"""Pieces the subcommands share: the parser boilerplate and messages for people."""

from __future__ import annotations

import argparse
import sys
from textwrap import dedent
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from types import ModuleType


def add_parser(
    subparsers: Any, module: ModuleType, parent: argparse.ArgumentParser, examples: str
) -> argparse.ArgumentParser:
    """A subcommand's parser: help summary from the module docstring's first paragraph, examples as epilog."""
    doc = dedent(module.__doc__ or "").strip()
    summary = " ".join(doc.split("\n\n", 1)[0].split())  # the first paragraph, whole: never a cut sentence
    name = module.__name__.rsplit(".", 1)[-1]
    parser: argparse.ArgumentParser = subparsers.add_parser(
        name,
        help=summary,
        description=doc,
        parents=[parent],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n" + dedent(examples).strip("\n"),
    )
    parser.set_defaults(run=module.run)
    return parser


def info(message: str, quiet: bool = False) -> None:
    """Messages for people go to stderr; stdout carries results (run ids, JSON) for scripts."""
    if not quiet:
        print(message, file=sys.stderr)
