"""Build a neighbor-joining tree from a distance matrix, root it at its midpoint and write Newick.

Negative branch lengths that neighbor-joining can produce are set to zero (the difference is moved to
the sibling branch). Internal nodes are named ``NODE_0000000``, ``NODE_0000001``, ... in pre-order.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from common import Node, add_fail_argument, die, fail_if_requested, to_newick

# Unrooted tree: node name -> {neighbour name: branch length}
Graph = dict[str, dict[str, float]]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--distances", type=Path, required=True, help="square TSV distance matrix")
    parser.add_argument("--output", type=Path, required=True, help="rooted tree in Newick format")
    add_fail_argument(parser)
    return parser.parse_args()


def read_matrix(path: Path) -> tuple[list[str], dict[str, dict[str, float]]]:
    lines = [line.split("\t") for line in path.read_text().splitlines() if line.strip()]
    if not lines:
        die(f"{path}: empty distance matrix")
    names = lines[0][1:]
    matrix: dict[str, dict[str, float]] = {}
    for row in lines[1:]:
        if len(row) != len(names) + 1:
            die(f"{path}: row {row[0]!r} has {len(row) - 1} values, expected {len(names)}")
        matrix[row[0]] = {name: float(value) for name, value in zip(names, row[1:], strict=True)}
    if list(matrix) != names:
        die(f"{path}: row names do not match the column names")
    return names, matrix


def neighbor_joining(names: list[str], matrix: dict[str, dict[str, float]]) -> Graph:
    graph: Graph = {name: {} for name in names}
    distances = {a: dict(row) for a, row in matrix.items()}
    active = list(names)
    counter = 0

    def connect(a: str, b: str, length: float) -> None:
        graph[a][b] = graph[b][a] = length

    while len(active) > 2:
        n = len(active)
        totals = {a: sum(distances[a][b] for b in active) for a in active}
        best: tuple[float, str, str] | None = None
        for i, a in enumerate(active):
            for b in active[i + 1 :]:
                q = (n - 2) * distances[a][b] - totals[a] - totals[b]
                if best is None or q < best[0]:
                    best = (q, a, b)
        assert best is not None
        _, a, b = best
        length_a = distances[a][b] / 2 + (totals[a] - totals[b]) / (2 * (n - 2))
        length_a = min(max(length_a, 0.0), distances[a][b])
        length_b = distances[a][b] - length_a

        parent = f"internal {counter}"  # sequence names never contain spaces, so no clash
        counter += 1
        graph[parent] = {}
        connect(parent, a, length_a)
        connect(parent, b, length_b)
        distances[parent] = {}
        for other in active:
            if other not in (a, b):
                value = max((distances[a][other] + distances[b][other] - distances[a][b]) / 2, 0.0)
                distances[parent][other] = distances[other][parent] = value
        distances[parent][parent] = 0.0
        active = [node for node in active if node not in (a, b)] + [parent]

    if len(active) == 2:
        connect(active[0], active[1], distances[active[0]][active[1]])
    return graph


def farthest(graph: Graph, start: str) -> tuple[str, dict[str, str | None], dict[str, float]]:
    """Return the node farthest from ``start`` plus the predecessor and distance maps of the search."""
    previous: dict[str, str | None] = {start: None}
    depth = {start: 0.0}
    stack = [start]
    while stack:
        node = stack.pop()
        for neighbour, length in graph[node].items():
            if neighbour not in depth:
                previous[neighbour] = node
                depth[neighbour] = depth[node] + length
                stack.append(neighbour)
    leaves = [name for name in depth if len(graph[name]) == 1 and name != start]
    far = max(leaves, key=lambda name: (depth[name], name))
    return far, previous, depth


def midpoint_root(graph: Graph, leaves: list[str]) -> Node:
    if len(leaves) == 1:
        return Node(name=leaves[0])
    a, _, _ = farthest(graph, leaves[0])
    b, previous, depth = farthest(graph, a)
    half = depth[b] / 2
    # Walk back from b towards a until the edge that contains the midpoint.
    child = b
    parent = previous[child]
    while parent is not None and depth[parent] > half:
        child, parent = parent, previous[parent]
    assert parent is not None
    length = graph[parent].pop(child)
    del graph[child][parent]
    root = "internal root"
    graph[root] = {parent: half - depth[parent], child: length - (half - depth[parent])}
    graph[parent][root] = graph[root][parent]
    graph[child][root] = graph[root][child]
    return to_rooted(graph, root, None, 0.0)


def to_rooted(graph: Graph, name: str, parent: str | None, length: float) -> Node:
    node = Node(name=name, length=length)
    for neighbour, branch in graph[name].items():
        if neighbour != parent:
            node.children.append(to_rooted(graph, neighbour, name, branch))
    # Stable, readable output: smaller clades first, then by name of the first leaf.
    node.children.sort(key=lambda child: (len(child.leaves()), child.leaves()[0].name))
    return node


def main() -> None:
    args = parse_args()
    fail_if_requested(args.fail_deliberately)

    names, matrix = read_matrix(args.distances)
    if not names:
        die(f"{args.distances}: no sequences")
    root = midpoint_root(neighbor_joining(names, matrix), names)
    internal = 0
    for node in root.walk():
        if node.children:
            node.name = f"NODE_{internal:07d}"
            internal += 1
    args.output.write_text(to_newick(root))
    print(f"tree: neighbor-joining tree with {len(names)} tips and {internal} internal nodes, midpoint rooted")


if __name__ == "__main__":
    main()
