"""Write a short plain-text summary of the build: what was kept, what was dropped and why, tree shape."""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from common import Node, add_fail_argument, fail_if_requested, read_newick, read_tsv


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--metadata", type=Path, required=True, help="metadata of the strains kept by the filter")
    parser.add_argument("--excluded", type=Path, required=True, help="TSV of dropped strains with reasons")
    parser.add_argument("--tree", type=Path, required=True, help="rooted Newick tree")
    parser.add_argument("--output", type=Path, required=True, help="summary text file")
    add_fail_argument(parser)
    return parser.parse_args()


def max_root_to_tip(node: Node, depth: float = 0.0) -> float:
    if node.is_leaf:
        return depth
    return max(max_root_to_tip(child, depth + child.length) for child in node.children)


def main() -> None:
    args = parse_args()
    fail_if_requested(args.fail_deliberately)

    kept = read_tsv(args.metadata, ("strain", "country", "region"))
    dropped = read_tsv(args.excluded, ("strain", "reason"))
    tree = read_newick(args.tree)
    tips = tree.leaves()
    internal = sum(1 for node in tree.walk() if node.children)
    countries = Counter(row["country"] for row in kept)
    regions = Counter(row["region"] for row in kept)

    lines = [
        "Example build summary",
        f"input sequences: {len(kept) + len(dropped)}",
        f"kept: {len(kept)}",
        f"dropped: {len(dropped)}",
        *(f"  - {row['strain']}: {row['reason']}" for row in dropped),
        "regions: " + ", ".join(f"{name} ({count})" for name, count in sorted(regions.items())),
        "countries: " + ", ".join(f"{name} ({count})" for name, count in sorted(countries.items())),
        f"tree: {len(tips)} tips, {internal} internal nodes, max root-to-tip divergence {max_root_to_tip(tree):.4f}",
    ]
    args.output.write_text("\n".join(lines) + "\n")
    print(f"summary: wrote {args.output}")


if __name__ == "__main__":
    main()
