"""nsclient's command line: the parser, and errors turned into one clear line and an exit code.

Exit codes: 0 success (with push --wait: the build's own exit code); 1 an error you can act on;
2 a usage error; 3 no such run; 70 a bug in nsclient; 130 interrupted. Set NSCLIENT_DEBUG=1 (or --debug) for tracebacks.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback

from botocore.exceptions import BotoCoreError, ClientError

from nsclient import __version__
from nsclient.command import COMMANDS, command_module
from nsclient.errors import EXIT_INTERRUPTED, EXIT_SOFTWARE, EXIT_USER_ERROR, UserError


def common_options() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("common options")
    group.add_argument(
        "--backend",
        dest="backend",
        metavar="<local|aws>",
        choices=("local", "aws"),
        help="Backend to use (default: NSCLIENT_BACKEND, [nsclient] backend, aws if a stack is set up, else local)",
    )
    group.add_argument("--quiet", "-q", dest="quiet", action="store_true", help="Print only results, no progress")
    group.add_argument("--debug", dest="debug", action="store_true", help="Show tracebacks on errors")
    return parent


def _needed(argv: list[str] | None) -> tuple[str, ...]:
    """The commands whose parsers argv needs: the one it runs (each command's imports are its own: boto3,
    rich, pydantic models), or all of them for help, completion or a command that is not one."""
    named = next((word for word in argv or [] if not word.startswith("-")), None)
    return (named,) if named in COMMANDS and named != "completion" else COMMANDS


def make_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """nsclient's parser; given the command line, with only the parsers it needs."""
    parser = argparse.ArgumentParser(
        prog="nsclient",
        description="Run Nextstrain builds on AWS Batch: push a build and come back later, from any machine.",
        epilog="Run `nsclient demo` to see a build go through the local backend end to end.",
    )
    parser.add_argument("--version", action="version", version=f"nsclient {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="<command>", required=True)
    parent = common_options()
    for name in _needed(argv):
        command_module(name).register_parser(subparsers, parent)
    return parser


def parse(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """The options, with push's snakemake arguments taken as `nextstrain build DIR [TARGET...]` takes them:
    targets and options nsclient does not know, after the build folder, go to snakemake in their order, and so
    does everything after the first `--`. A snakemake option nsclient also has (`-q`) needs the `--`."""
    after_dashes: list[str] = []
    if "--" in argv:
        split = argv.index("--")
        argv, after_dashes = argv[:split], argv[split + 1 :]
    opts, unknown = parser.parse_known_args(argv)
    if not hasattr(opts, "snakemake_args"):
        command = subcommand_parser(parser, opts.command)
        if after_dashes:
            command.error("it takes no arguments after --")
        if unknown:
            command.error(f"unrecognized arguments: {' '.join(unknown)}")
        return opts
    opts.snakemake_args = unknown + after_dashes
    return opts


def subcommand_parser(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    """A subcommand's own parser, whose errors show that command's usage rather than nsclient's."""
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    command: argparse.ArgumentParser = action.choices[name]
    return command


def run(argv: list[str]) -> int:
    opts = parse(make_parser(argv), argv)
    debug = getattr(opts, "debug", False) or bool(os.environ.get("NSCLIENT_DEBUG"))
    try:
        code: int = opts.run(opts)
        return code
    except UserError as error:
        if debug:
            traceback.print_exc()
        print(f"Error: {error}", file=sys.stderr)
        return error.exit_code
    except (ClientError, BotoCoreError) as error:
        if debug:
            traceback.print_exc()
        from nsclient.backend import describe_aws_error

        print(f"Error from AWS: {describe_aws_error(error)}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("\nInterrupted.", file=sys.stderr)
        return EXIT_INTERRUPTED
    except AssertionError:
        traceback.print_exc()
        print("This is a bug in nsclient; please report it with the output above.", file=sys.stderr)
        return EXIT_SOFTWARE
