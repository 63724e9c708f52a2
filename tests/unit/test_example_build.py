"""Run the bundled example build (client/nsclient/example_build) with Snakemake and check its outputs."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

EXAMPLE_BUILD = Path(__file__).resolve().parents[2] / "client" / "nsclient" / "example_build"
BIN_DIR = Path(sys.executable).parent
SNAKEMAKE = shutil.which("snakemake", path=str(BIN_DIR))

# Strains the default filter settings drop, one per filter reason.
EXPECTED_DROPPED = {
    "USA/TX-2201/2022": "listed in exclude.txt",
    "India/MH-0860/2021": "too short",
    "Kenya/NBO-0014/2015": "before min_date",
    "Peru/LIM-0066/2021": "no metadata",
}

pytestmark = pytest.mark.skipif(SNAKEMAKE is None, reason=f"snakemake is not installed in {BIN_DIR}")


def copy_example(tmp_path: Path) -> Path:
    workdir = tmp_path / "example_build"
    shutil.copytree(
        EXAMPLE_BUILD,
        workdir,
        ignore=shutil.ignore_patterns(".snakemake", "results", "auspice", "__pycache__"),
    )
    return workdir


def run_snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert SNAKEMAKE is not None
    # The rules call `python3`: make it the interpreter running the tests.
    env = {**os.environ, "PATH": os.pathsep.join([str(BIN_DIR), os.environ.get("PATH", "")])}
    return subprocess.run(
        [SNAKEMAKE, *args],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=300,
        check=False,
    )


def read_fasta_names(path: Path) -> list[str]:
    return [line[1:].split()[0] for line in path.read_text().splitlines() if line.startswith(">")]


def check_node(node: dict[str, Any], parent_div: float, leaves: list[dict[str, Any]], names: list[str]) -> None:
    assert set(node) <= {"name", "node_attrs", "branch_attrs", "children"}
    assert isinstance(node["name"], str) and node["name"] and " " not in node["name"]
    names.append(node["name"])
    attrs = node["node_attrs"]
    assert isinstance(node["branch_attrs"], dict)
    assert isinstance(attrs["div"], (int, float))
    assert attrs["div"] >= parent_div
    if "num_date" in attrs:
        assert isinstance(attrs["num_date"]["value"], float)
        if "confidence" in attrs["num_date"]:
            low, high = attrs["num_date"]["confidence"]
            assert low <= attrs["num_date"]["value"] <= high
    children = node.get("children")
    if children is None:
        leaves.append(node)
        return
    assert isinstance(children, list) and children
    for child in children:
        check_node(child, attrs["div"], leaves, names)


@pytest.mark.slow
@pytest.mark.parametrize(
    "cores_args",
    [
        ["--cores=2", "--resources=mem_mb=2048", "--printshellcmds", "--benchmark-extended", "--rerun-incomplete"],
        ["--cores=all", "--printshellcmds"],
    ],
    ids=["cores-2", "cores-all"],
)
def test_example_build_produces_auspice_v2_json(tmp_path: Path, cores_args: list[str]) -> None:
    workdir = copy_example(tmp_path)
    result = run_snakemake(workdir, *cores_args)
    assert result.returncode == 0, result.stdout
    assert "python3 scripts/tree.py" in result.stdout  # --printshellcmds shows the commands

    dataset = json.loads((workdir / "auspice" / "example.json").read_text())
    assert set(dataset) == {"version", "meta", "tree"}
    assert dataset["version"] == "v2"
    meta = dataset["meta"]
    assert isinstance(meta["title"], str) and meta["title"]
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", meta["updated"])
    assert meta["panels"] == ["tree"]
    colorings = {coloring["key"]: coloring["type"] for coloring in meta["colorings"]}
    assert colorings == {"country": "categorical", "region": "categorical"}

    leaves: list[dict[str, Any]] = []
    names: list[str] = []
    assert dataset["tree"]["node_attrs"]["div"] == 0
    check_node(dataset["tree"], 0.0, leaves, names)
    assert len(names) == len(set(names)), "node names must be unique"

    # Every strain that passed the filter is a tip exactly once, and nothing else is.
    input_strains = read_fasta_names(workdir / "data" / "sequences.fasta")
    excluded_rows = (workdir / "results" / "excluded.tsv").read_text().splitlines()[1:]
    excluded = dict(row.split("\t", 1) for row in excluded_rows)
    assert set(excluded) == set(EXPECTED_DROPPED)
    for strain, reason in EXPECTED_DROPPED.items():
        assert reason in excluded[strain]
    passed = [strain for strain in input_strains if strain not in excluded]
    assert read_fasta_names(workdir / "results" / "filtered.fasta") == passed
    tip_counts = Counter(leaf["name"] for leaf in leaves)
    assert set(tip_counts) == set(passed)
    assert all(count == 1 for count in tip_counts.values())

    metadata_rows = (workdir / "data" / "metadata.tsv").read_text().splitlines()[1:]
    metadata = {fields[0]: fields for fields in (row.split("\t") for row in metadata_rows)}
    for leaf in leaves:
        _, _, country, region = metadata[leaf["name"]]
        attrs = leaf["node_attrs"]
        assert attrs["country"] == {"value": country}
        assert attrs["region"] == {"value": region}
        assert isinstance(attrs["num_date"]["value"], float)

    summary = (workdir / "results" / "summary.txt").read_text()
    assert f"kept: {len(passed)}" in summary
    assert f"dropped: {len(EXPECTED_DROPPED)}" in summary


@pytest.mark.slow
def test_example_build_fail_rule_fails_named_rule(tmp_path: Path) -> None:
    workdir = copy_example(tmp_path)
    result = run_snakemake(
        workdir,
        "--cores=2",
        "--resources=mem_mb=2048",
        "--printshellcmds",
        "--rerun-incomplete",
        "--config",
        "fail_rule=tree",
    )
    assert result.returncode != 0
    assert "Error in rule tree" in result.stdout
    assert "rule 'tree' failed deliberately" in result.stdout
    assert (workdir / "results" / "distances.tsv").exists()  # rules before the failing one ran
    assert not (workdir / "results" / "tree.nwk").exists()
    assert not (workdir / "auspice" / "example.json").exists()
