"""Benchmark data, made on demand (not committed): a build like a pathogen build's and its results zip.

The build: small TSV and JSON files plus FASTA of mutated copies of one genome (real sequence data
compresses as such copies do). The compressed build has the same small files, but its large inputs are
already compressed, as real builds' `sequences.fasta.xz` and `metadata.tsv.zst` are: xz, zstd and gzip
files of diverse sequences and metadata, which no further compression shrinks. The results zip is what
the job writes back: the build's inputs, unchanged, plus what the run produced (JSON per sample and an
aligned FASTA), deflated as the job does.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import zipfile
from pathlib import Path

from isal import igzip

GENOME_BYTES = 30_000
FASTA_FILES = 16
SMALL_FILES = 10_000  # half TSV, half JSON


def _mutated(rng: random.Random, genome: bytearray, rate: float) -> bytes:
    copy = bytearray(genome)
    for _ in range(int(len(copy) * rate)):
        copy[rng.randrange(len(copy))] = rng.choice(b"ACGT")
    return bytes(copy)


def _fasta(rng: random.Random, genome: bytearray, size: int, prefix: str) -> bytes:
    records, total, number = [], 0, 0
    while total < size:
        record = b">" + f"{prefix}/{number}/2026".encode() + b"\n" + _mutated(rng, genome, 0.002) + b"\n"
        records.append(record)
        total += len(record)
        number += 1
    return b"".join(records)


def _small_files(root: Path, rng: random.Random) -> int:
    """SMALL_FILES TSV and JSON files and the Snakefile; their total size."""
    (root / "data" / "metadata").mkdir(parents=True, exist_ok=True)
    (root / "config").mkdir(exist_ok=True)
    (root / "Snakefile").write_text("rule all:\n    input: 'auspice/tree.json'\n")
    small_total = 0
    for i in range(SMALL_FILES // 2):
        rows = "".join(
            f"s{i}-{j}\t2026-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}\tcountry{rng.randrange(60)}\t"
            f"{rng.random():.6f}\n"
            for j in range(30)
        )
        tsv = f"strain\tdate\tcountry\tscore\n{rows}".encode()
        config = json.dumps({"sample": i, "clades": {f"c{k}": rng.random() for k in range(40)}}).encode()
        (root / "data" / "metadata" / f"sample{i:05d}.tsv").write_bytes(tsv)
        (root / "config" / f"sample{i:05d}.json").write_bytes(config)
        small_total += len(tsv) + len(config)
    return small_total


def make_build(root: Path, size_mb: int, seed: int = 17) -> Path:
    """About `size_mb` MB in SMALL_FILES + FASTA_FILES + 1 files."""
    rng = random.Random(seed)
    genome = bytearray(rng.choice(b"ACGT") for _ in range(GENOME_BYTES))
    small_total = _small_files(root, rng)
    each = max(1, (size_mb * 1_000_000 - small_total) // FASTA_FILES)
    for i in range(FASTA_FILES):
        (root / "data" / f"sequences{i:02d}.fasta").write_bytes(_fasta(rng, genome, each, f"batch{i}"))
    return root


_BASES = bytes.maketrans(bytes(range(256)), b"ACGT" * 64)
# What each compressor makes of diverse sequences (about two bits a base) or metadata rows: the
# uncompressed bytes needed for a compressed file of a given size.
_EXPANSION = {"xz": 3.15, "zst": 3.25, "gz": 3.15}


def _diverse_fasta(rng: random.Random, size: int, prefix: str) -> bytes:
    """Unrelated sequences: what a compressor leaves of them is about two bits a base."""
    records, total, number = [], 0, 0
    while total < size:
        record = f">{prefix}/{number}/2026\n".encode() + rng.randbytes(GENOME_BYTES).translate(_BASES) + b"\n"
        records.append(record)
        total += len(record)
        number += 1
    return b"".join(records)


def _compressed(kind: str, data: bytes) -> bytes:
    """The file as xz, zstd (the `xz` and `zstd` tools) or gzip (ISA-L's, for speed: the bytes are as dense)."""
    if kind == "gz":
        return igzip.compress(data, compresslevel=2, mtime=0)
    command = ["xz", "-0", "-T2", "-c"] if kind == "xz" else ["zstd", "-q", "-3", "-T2", "-c"]
    return subprocess.run(command, input=data, capture_output=True, check=True).stdout


def make_compressed_build(root: Path, size_mb: int, seed: int = 19) -> Path:
    """About `size_mb` MB in SMALL_FILES + FASTA_FILES + 1 files, the large ones xz, zstd or gzip files."""
    rng = random.Random(seed)
    small_total = _small_files(root, rng)
    each = max(1, (size_mb * 1_000_000 - small_total) // FASTA_FILES)
    kinds = ["xz", "zst", "gz"]
    for i in range(FASTA_FILES):
        kind = kinds[i % len(kinds)]
        raw = int(each * _EXPANSION[kind])
        name = f"sequences{i:02d}.fasta.{kind}" if i % 2 == 0 else f"metadata{i:02d}.tsv.{kind}"
        (root / "data" / name).write_bytes(_compressed(kind, _diverse_fasta(rng, raw, f"batch{i}")))
    return root


def make_results(build: Path, path: Path, seed: int = 23) -> None:
    """The job's results zip: every input again, then what the run produced."""
    rng = random.Random(seed)
    genome = bytearray(rng.choice(b"ACGT") for _ in range(GENOME_BYTES))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for source in sorted(p for p in build.rglob("*") if p.is_file()):
            archive.write(source, source.relative_to(build).as_posix())
        for i in range(2_000):
            node = {"name": f"s{i}", "branch_attrs": {"mutations": {"nuc": [f"A{rng.randrange(30000)}G"] * 5}}}
            archive.writestr(f"results/nodes/s{i:05d}.json", json.dumps(node))
        archive.writestr("results/aligned.fasta", _fasta(rng, genome, 20_000_000, "aligned"))
        archive.writestr("auspice/tree.json", json.dumps({"tree": [rng.random() for _ in range(100_000)]}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("directory", type=Path)
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--compressed", action="store_true", help="large inputs already compressed")
    options = parser.parse_args()
    maker = make_compressed_build if options.compressed else make_build
    build = maker(options.directory / "build", options.size_mb)
    make_results(build, options.directory / "results.zip")


if __name__ == "__main__":
    main()
