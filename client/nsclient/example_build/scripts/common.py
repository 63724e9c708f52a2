"""Helpers shared by the example build's scripts: FASTA/TSV I/O, dates, Newick and the failure knob.

Standard library only, so the example runs anywhere Snakemake runs.
"""

from __future__ import annotations

import csv
import datetime as dt
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    import argparse
    from collections.abc import Iterator
    from pathlib import Path

NEWICK_SPECIAL = set("()[]':;, \t\n")
# Not snakemake's own 1, so that a notice can tell the rule's status from snakemake's.
DELIBERATE_FAILURE_STATUS = 3


# --------------------------------------------------------------------------- command line


def add_fail_argument(parser: argparse.ArgumentParser) -> None:
    """Add ``--fail-deliberately RULE``, which the Snakefile passes when ``config["fail_rule"]`` names the rule."""
    parser.add_argument(
        "--fail-deliberately",
        metavar="RULE",
        default=None,
        help=f"exit with status {DELIBERATE_FAILURE_STATUS} before doing any work (used to test failed builds)",
    )


def fail_if_requested(rule: str | None) -> None:
    """Exit with a status of its own (snakemake then exits 1) if the build asked this rule to fail."""
    if rule:
        print(
            f"ERROR: rule {rule!r} failed deliberately because the build was run with --config fail_rule={rule}",
            file=sys.stderr,
            flush=True,
        )
        sys.exit(DELIBERATE_FAILURE_STATUS)


def die(message: str) -> NoReturn:
    """Print an error message and exit with status 1."""
    print(f"ERROR: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


# --------------------------------------------------------------------------- FASTA and TSV


def read_fasta(path: Path) -> dict[str, str]:
    """Read a FASTA file into an ordered ``{name: sequence}`` mapping (sequence upper-cased)."""
    records: dict[str, str] = {}
    name: str | None = None
    chunks: list[str] = []
    with path.open() as handle:
        for raw in handle:
            line = raw.strip()
            if not line:
                continue
            if line.startswith(">"):
                if name is not None:
                    records[name] = "".join(chunks).upper()
                name = line[1:].split()[0] if line[1:].strip() else ""
                if not name:
                    die(f"{path}: empty sequence name")
                if name in records:
                    die(f"{path}: duplicate sequence name {name!r}")
                chunks = []
            elif name is None:
                die(f"{path}: sequence data before the first '>' header")
            else:
                chunks.append(line)
    if name is not None:
        records[name] = "".join(chunks).upper()
    return records


def write_fasta(path: Path, records: dict[str, str], width: int = 60) -> None:
    """Write ``{name: sequence}`` as FASTA with fixed-width lines."""
    with path.open("w") as handle:
        for name, sequence in records.items():
            handle.write(f">{name}\n")
            for start in range(0, len(sequence), width):
                handle.write(sequence[start : start + width] + "\n")


def read_tsv(path: Path, required: tuple[str, ...] = ()) -> list[dict[str, str]]:
    """Read a tab-separated file with a header row, checking that ``required`` columns exist."""
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t")
        missing = [column for column in required if column not in (reader.fieldnames or [])]
        if missing:
            die(f"{path}: missing column(s) {', '.join(missing)}")
        return [{key: (value or "").strip() for key, value in row.items() if key is not None} for row in reader]


def write_tsv(path: Path, columns: list[str], rows: list[dict[str, str]]) -> None:
    """Write rows as a tab-separated file with the given column order."""
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, delimiter="\t", lineterminator="\n", extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


# --------------------------------------------------------------------------- dates


def _decimal_year(day: dt.date) -> float:
    """Decimal year of the middle of ``day`` (the convention augur and TreeTime use)."""
    days_in_year = dt.date(day.year, 12, 31).timetuple().tm_yday
    return day.year + (day.timetuple().tm_yday - 0.5) / days_in_year


def date_range(value: str) -> tuple[float, float] | None:
    """Earliest and latest decimal year for an ISO date that may have ``XX`` for unknown month/day.

    ``2021-03-14`` -> a single day, ``2021-06-XX`` -> June, ``2022-XX-XX`` -> the whole year.
    Returns None for a missing or unparseable date.
    """
    parts = value.strip().split("-")
    if len(parts) != 3 or not parts[0].isdigit():
        return None
    year = int(parts[0])
    try:
        if parts[1].upper() == "XX":
            first, last = dt.date(year, 1, 1), dt.date(year, 12, 31)
        elif parts[2].upper() == "XX":
            month = int(parts[1])
            first = dt.date(year, month, 1)
            last = dt.date(year + (month == 12), month % 12 + 1, 1) - dt.timedelta(days=1)
        else:
            first = last = dt.date(year, int(parts[1]), int(parts[2]))
    except ValueError:
        return None
    return _decimal_year(first), _decimal_year(last)


# --------------------------------------------------------------------------- Newick


@dataclass
class Node:
    """A node of a rooted tree; ``length`` is the branch leading to it."""

    name: str
    length: float = 0.0
    children: list[Node] = field(default_factory=list)

    @property
    def is_leaf(self) -> bool:
        return not self.children

    def walk(self) -> Iterator[Node]:
        """Yield this node and its descendants in pre-order."""
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children))

    def leaves(self) -> list[Node]:
        return [node for node in self.walk() if node.is_leaf]


def _newick_label(name: str) -> str:
    if name and not NEWICK_SPECIAL.intersection(name):
        return name
    return "'" + name.replace("'", "''") + "'"


def to_newick(root: Node) -> str:
    """Serialise a tree as a Newick string (with internal node labels and branch lengths)."""

    def render(node: Node, is_root: bool) -> str:
        text = ""
        if node.children:
            text = "(" + ",".join(render(child, False) for child in node.children) + ")"
        text += _newick_label(node.name)
        if not is_root:
            text += f":{node.length:.6f}"
        return text

    return render(root, True) + ";\n"


def _tokenize(text: str) -> Iterator[str]:
    index = 0
    while index < len(text):
        char = text[index]
        if char.isspace():
            index += 1
        elif char in "(),:;":
            yield char
            index += 1
        elif char == "'":
            end = index + 1
            label: list[str] = []
            while True:
                if end >= len(text):
                    raise ValueError("unterminated quoted label in Newick")
                if text[end] == "'":
                    if end + 1 < len(text) and text[end + 1] == "'":
                        label.append("'")
                        end += 2
                        continue
                    break
                label.append(text[end])
                end += 1
            yield "'" + "".join(label)  # a leading quote marks a label token
            index = end + 1
        else:
            end = index
            while end < len(text) and text[end] not in "(),:;'" and not text[end].isspace():
                end += 1
            yield text[index:end]
            index = end


def parse_newick(text: str) -> Node:
    """Parse a single Newick tree (quoted labels, internal labels and branch lengths supported)."""
    tokens = list(_tokenize(text))
    position = 0

    def peek() -> str:
        return tokens[position] if position < len(tokens) else ""

    def take() -> str:
        nonlocal position
        token = peek()
        position += 1
        return token

    def subtree() -> Node:
        node = Node(name="")
        if peek() == "(":
            take()
            node.children.append(subtree())
            while peek() == ",":
                take()
                node.children.append(subtree())
            if take() != ")":
                raise ValueError("expected ')' in Newick")
        if peek() not in ("", "(", ")", ",", ":", ";"):
            token = take()
            node.name = token[1:] if token.startswith("'") else token
        if peek() == ":":
            take()
            node.length = float(take())
        return node

    root = subtree()
    if take() != ";":
        raise ValueError("expected ';' at the end of the Newick tree")
    return root


def read_newick(path: Path) -> Node:
    """Read a Newick file, exiting with an error message if it cannot be parsed."""
    try:
        return parse_newick(path.read_text())
    except ValueError as error:
        die(f"{path}: {error}")
