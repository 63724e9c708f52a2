"""Export a Newick tree and its metadata as an Auspice v2 dataset JSON, like a tiny ``augur export v2``.

Every node gets ``div`` (cumulative divergence from the root). Tips also get ``country`` and ``region``
and, when the date is known at least to the year, ``num_date`` (with a confidence interval for
incomplete dates such as ``2022-XX-XX``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path
from typing import Any

from common import Node, add_fail_argument, date_range, die, fail_if_requested, read_newick, read_tsv

COLORINGS = (("country", "Country"), ("region", "Region"))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tree", type=Path, required=True, help="rooted Newick tree")
    parser.add_argument("--metadata", type=Path, required=True, help="TSV with strain, date, country, region")
    parser.add_argument("--title", default="Example build", help="dataset title shown by Auspice")
    parser.add_argument("--output", type=Path, required=True, help="Auspice v2 JSON")
    add_fail_argument(parser)
    return parser.parse_args()


def node_json(node: Node, parent_div: float, metadata: dict[str, dict[str, str]]) -> dict[str, Any]:
    div = parent_div + node.length
    attrs: dict[str, Any] = {"div": round(div, 6)}
    if node.is_leaf:
        row = metadata[node.name]
        dates = date_range(row["date"])
        if dates is not None:
            low, high = dates
            attrs["num_date"] = {"value": round((low + high) / 2, 4)}
            if high > low:
                attrs["num_date"]["confidence"] = [round(low, 4), round(high, 4)]
        for key, _ in COLORINGS:
            if row.get(key):
                attrs[key] = {"value": row[key]}
    result: dict[str, Any] = {"name": node.name, "node_attrs": attrs, "branch_attrs": {}}
    if node.children:
        result["children"] = [node_json(child, div, metadata) for child in node.children]
    return result


def main() -> None:
    args = parse_args()
    fail_if_requested(args.fail_deliberately)

    tree = read_newick(args.tree)
    metadata = {row["strain"]: row for row in read_tsv(args.metadata, ("strain", "date", "country", "region"))}
    tips = tree.leaves()
    missing = [tip.name for tip in tips if tip.name not in metadata]
    if missing:
        die(f"{args.metadata}: no metadata for tip(s) {', '.join(missing)}")
    dataset = {
        "version": "v2",
        "meta": {
            "title": args.title,
            "updated": dt.date.today().isoformat(),
            "description": (
                "Synthetic sequences bundled with nsclient. Neighbor-joining tree of p-distances, midpoint rooted."
            ),
            "panels": ["tree"],
            "colorings": [{"key": key, "title": title, "type": "categorical"} for key, title in COLORINGS],
            "filters": [key for key, _ in COLORINGS],
            "display_defaults": {"color_by": COLORINGS[0][0], "distance_measure": "div"},
        },
        "tree": node_json(tree, -tree.length, metadata),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(dataset, indent=1) + "\n")
    print(f"export: wrote {args.output} with {len(tips)} tips")


if __name__ == "__main__":
    main()
