"""The example is copied out before anything runs in it: a copy holds the example's own files only, even
when someone ran the build in nsclient's own folder, and pushing that folder itself is refused."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from nsclient import example
from tests.client.helpers import Cli


def files_under(folder: Path) -> set[str]:
    return {str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file()}


def test_a_copy_holds_the_examples_own_files_whatever_ran_beside_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the package's example folder, in which a build ran and was pulled
    pristine = tmp_path / "pristine"
    example.copy_example(pristine)
    used = tmp_path / "package" / "example_build"
    shutil.copytree(pristine, used)
    for made in ("results/tree.nwk", "auspice/example.json", ".snakemake/log/run.log", "scripts/__pycache__/a.pyc"):
        (used / made).parent.mkdir(parents=True, exist_ok=True)
        (used / made).write_text("made by a run\n")
    monkeypatch.setattr(example, "EXAMPLE", used)

    # When the demo copies the example
    copy = tmp_path / "demo"
    example.copy_example(copy)

    # Then the copy is the example as shipped
    assert files_under(copy) == files_under(pristine)
    assert {"Snakefile", "README.md", "config/config.yaml", "data/sequences.fasta"} <= files_under(copy)


def test_pushing_the_packages_own_example_folder_is_refused_in_one_line(tmp_path: Path) -> None:
    machine = Cli(tmp_path / "home")  # no backend: the refusal comes before one is reached

    result = machine.process("push", str(example.EXAMPLE), "--wait")

    assert result.code == 1
    assert result.error_lines == [
        f"Error: {example.EXAMPLE} is nsclient's own copy of the example: copy it out first "
        f"(`cp -r {example.EXAMPLE} zika-like`) and push the copy, or run `nsclient demo`."
    ]
    assert not machine.local_dir.exists()  # no local backend was started for it
