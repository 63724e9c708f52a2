"""Pairwise p-distances between aligned sequences, written as a square TSV matrix.

The p-distance of two sequences is the fraction of differing sites among the sites where both have
an unambiguous base (A/C/G/T); gaps, N and IUPAC ambiguity codes are ignored. Rows of the matrix are
computed in ``--threads`` worker processes.
"""

from __future__ import annotations

import argparse
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from common import add_fail_argument, die, fail_if_requested, read_fasta

UNAMBIGUOUS = frozenset("ACGT")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sequences", type=Path, required=True, help="aligned FASTA")
    parser.add_argument("--output", type=Path, required=True, help="TSV distance matrix")
    parser.add_argument("--threads", type=int, default=1, help="worker processes")
    add_fail_argument(parser)
    return parser.parse_args()


def p_distance(first: str, second: str) -> float:
    compared = differing = 0
    for a, b in zip(first, second, strict=True):
        if a in UNAMBIGUOUS and b in UNAMBIGUOUS:
            compared += 1
            differing += a != b
    # Without a single comparable site the pair carries no information: treat it as maximally distant.
    return differing / compared if compared else 1.0


def distance_row(args: tuple[int, list[str]]) -> list[float]:
    index, sequences = args
    return [p_distance(sequences[index], other) for other in sequences]


def main() -> None:
    args = parse_args()
    fail_if_requested(args.fail_deliberately)

    records = read_fasta(args.sequences)
    names, sequences = list(records), list(records.values())
    lengths = {len(sequence) for sequence in sequences}
    if len(lengths) > 1:
        die(f"{args.sequences}: sequences are not aligned (lengths {sorted(lengths)})")

    jobs = [(index, sequences) for index in range(len(sequences))]
    workers = max(1, min(args.threads, len(jobs)))
    if workers == 1:
        matrix = [distance_row(job) for job in jobs]
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            matrix = list(pool.map(distance_row, jobs))

    with args.output.open("w") as handle:
        handle.write("\t".join(["strain", *names]) + "\n")
        for name, row in zip(names, matrix, strict=True):
            handle.write("\t".join([name, *(f"{value:.6f}" for value in row)]) + "\n")
    pairs = len(names) * (len(names) - 1) // 2
    print(f"distances: {pairs} pairs of {len(names)} sequences ({lengths.pop()} sites) using {workers} process(es)")


if __name__ == "__main__":
    main()
