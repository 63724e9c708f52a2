"""Pieces the subcommands share: the parser boilerplate and how runs are shown."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from textwrap import dedent
from typing import TYPE_CHECKING, Any

from nsclient_common.cost import describe as describe_cost

if TYPE_CHECKING:
    from types import ModuleType

    from nsclient_common.record import RunRecord


def add_parser(
    subparsers: Any, module: ModuleType, parent: argparse.ArgumentParser, examples: str
) -> argparse.ArgumentParser:
    """A subcommand's parser: help summary from the module docstring's first line, examples as epilog."""
    doc = dedent(module.__doc__ or "").strip()
    summary = doc.splitlines()[0] if doc else ""
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


def _parse(moment: str | None) -> datetime | None:
    return datetime.strptime(moment, "%Y-%m-%dT%H:%M:%SZ") if moment else None


def duration(record: RunRecord) -> str:
    start, end = _parse(record.started_at), _parse(record.finished_at)
    if start is None:
        return "-"
    seconds = int(((end or datetime.utcnow()) - start).total_seconds())
    hours, rest = divmod(max(seconds, 0), 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{seconds:02d}s"


def resources(record: RunRecord) -> str:
    cpus = f"{record.cpus} cpu" if record.cpus else "default cpu"
    memory = f"{record.memory_mib} MiB" if record.memory_mib else "default mem"
    return f"{cpus}, {memory}"


def describe(record: RunRecord) -> str:
    status = record.status.value + (f" ({record.failure_class.value})" if record.failure_class else "")
    rows = [
        ("Run", record.run_id),
        ("Status", status),
        ("Reason", record.reason),
        ("Failed rule", record.failed_rule),
        ("Exit code", record.exit_code),
        ("Submitted", record.submitted_at),
        ("Started", record.started_at),
        ("Finished", record.finished_at),
        ("Duration", duration(record) if record.started_at else None),
        ("Resources", resources(record)),
        ("Submitter", record.submitter),
        ("Notify", record.notify),
        ("Batch job", record.job_id),
        ("Results", record.workdir_url),
        ("Log", record.log_url),
        ("Cost", describe_cost(record.cost_estimate) if record.cost_estimate else None),
        ("Report", record.report_url),
    ]
    return "\n".join(f"{name + ':':<13}{value}" for name, value in rows if value not in (None, ""))
