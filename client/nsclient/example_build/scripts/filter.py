"""Filter sequences by metadata and quality, like a tiny ``augur filter``.

A strain is dropped when it has no metadata row, is listed in the exclude file, has fewer than
``--min-length`` unambiguous bases (A/C/G/T), or was sampled before ``--min-date``. Every dropped
strain is written to ``--output-excluded`` with the reason.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from common import add_fail_argument, date_range, die, fail_if_requested, read_fasta, read_tsv, write_fasta, write_tsv

METADATA_COLUMNS = ("strain", "date", "country", "region")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sequences", type=Path, required=True, help="aligned input FASTA")
    parser.add_argument("--metadata", type=Path, required=True, help="TSV with strain, date, country, region")
    parser.add_argument("--exclude", type=Path, required=True, help="strain names to drop, one per line (# comments)")
    parser.add_argument("--min-length", type=int, default=0, help="minimum number of A/C/G/T bases")
    parser.add_argument("--min-date", default="", help="drop strains sampled before this ISO date (YYYY-MM-DD)")
    parser.add_argument("--sleep-seconds", type=float, default=0.0, help="sleep before working (tests cancellation)")
    parser.add_argument("--output-sequences", type=Path, required=True)
    parser.add_argument("--output-metadata", type=Path, required=True)
    parser.add_argument("--output-excluded", type=Path, required=True)
    add_fail_argument(parser)
    return parser.parse_args()


def read_exclude(path: Path) -> set[str]:
    names = set()
    for line in path.read_text().splitlines():
        name = line.split("#", 1)[0].strip()
        if name:
            names.add(name)
    return names


def main() -> None:
    args = parse_args()
    if args.sleep_seconds > 0:
        print(f"filter: sleeping {args.sleep_seconds:g} s (config sleep_seconds)", flush=True)
        time.sleep(args.sleep_seconds)
    fail_if_requested(args.fail_deliberately)

    sequences = read_fasta(args.sequences)
    metadata = {row["strain"]: row for row in read_tsv(args.metadata, METADATA_COLUMNS)}
    excluded_names = read_exclude(args.exclude)
    min_date = None
    if args.min_date:
        bounds = date_range(args.min_date)
        if bounds is None:
            die(f"--min-date {args.min_date!r} is not a YYYY-MM-DD date")
        min_date = bounds[0]

    kept: dict[str, str] = {}
    dropped: list[dict[str, str]] = []
    for strain, sequence in sequences.items():
        reason = ""
        unambiguous = sum(sequence.count(base) for base in "ACGT")
        row = metadata.get(strain)
        if row is None:
            reason = "no metadata"
        elif strain in excluded_names:
            reason = f"listed in {args.exclude.name}"
        elif unambiguous < args.min_length:
            reason = f"too short: {unambiguous} A/C/G/T bases < min_length {args.min_length}"
        elif min_date is not None:
            dates = date_range(row["date"])
            if dates is None:
                reason = f"missing or invalid date {row['date']!r}"
            elif dates[1] < min_date:
                reason = f"date {row['date']} before min_date {args.min_date}"
        if reason:
            dropped.append({"strain": strain, "reason": reason})
        else:
            kept[strain] = sequence

    if not kept:
        die("no sequences passed the filter")

    write_fasta(args.output_sequences, kept)
    write_tsv(args.output_metadata, list(METADATA_COLUMNS), [metadata[strain] for strain in kept])
    write_tsv(args.output_excluded, ["strain", "reason"], dropped)
    print(f"filter: kept {len(kept)} of {len(sequences)} sequences, dropped {len(dropped)}")
    for row in dropped:
        print(f"filter:   dropped {row['strain']}: {row['reason']}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
