"""`nsclient view RUN` as a person uses it: the example build's run, its auspice/ files alone fetched, shown by
Auspice (installed from npm on first use), and its tree read from the page that headless Chromium renders,
with a screenshot in test-artifacts/. Auspice is installed once into pytest's cache and reused after."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import tempfile
import urllib.request
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from nsclient.example import copy_example
from tests.client.helpers import aws_machine

if TYPE_CHECKING:
    from tests.support import Backend

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
BROWSER = [
    "chromium",
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


class TipLabels(HTMLParser):
    """The tip labels Auspice draws on the tree (its SVG's text.tipLabel elements)."""

    def __init__(self) -> None:
        super().__init__()
        self.labels: list[str] = []
        self._in_label = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._in_label = tag == "text" and "tipLabel" in (dict(attrs).get("class") or "").split()

    def handle_data(self, data: str) -> None:
        if self._in_label:
            self.labels.append(data.strip())
            self._in_label = False


def leaves(node: dict[str, Any]) -> list[str]:
    children = node.get("children") or []
    return [node["name"]] if not children else [name for child in children for name in leaves(child)]


def a_free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def files_under(folder: Path) -> set[str]:
    return {str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file()}


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Debian's chromium (.ci/run installs it)")
def test_view_shows_the_example_runs_tree_in_auspice(
    local_backend: Backend, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    # Given the example build's run, pushed and followed to its end
    person = aws_machine(tmp_path / "home", local_backend)
    folder = tmp_path / "zika-like"
    copy_example(folder)
    pushed = person.process("push", str(folder), "--wait", "--no-download", timeout=300)
    assert pushed.code == 0, pushed.err
    run_id = pushed.out.splitlines()[0]

    # When the person views it, on a machine where no browser can be opened
    views = tmp_path / "views"
    env = {
        "BROWSER": "false",
        "DISPLAY": None,
        "NSCLIENT_AUSPICE_DIR": str(request.config.cache.mkdir("nsclient-auspice")),
    }
    port = a_free_port()
    with tempfile.TemporaryFile("w+") as err:
        viewing = person.popen(
            "view", run_id, "--port", str(port), "--dir", str(views), env=env, stdout=subprocess.PIPE, stderr=err
        )
        try:
            assert viewing.stdout is not None
            address = viewing.stdout.readline().strip()  # once Auspice serves the tree
            assert address == f"http://localhost:{port}/example", err.seek(0) or err.read()
            page = subprocess.run(
                [*BROWSER, f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=20000", "--dump-dom"]
                + [address],
                capture_output=True,
                text=True,
                timeout=180,
                check=True,
            ).stdout
            ARTIFACTS.mkdir(exist_ok=True)
            screenshot = ARTIFACTS / "example-auspice.png"
            screenshot.unlink(missing_ok=True)
            subprocess.run(
                [*BROWSER, f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=20000"]
                + [f"--screenshot={screenshot}", "--window-size=1400,1000", address],
                capture_output=True,
                timeout=180,
                check=True,
            )
        finally:
            viewing.send_signal(signal.SIGINT)  # Ctrl-C
            stopped = viewing.wait(30)
        err.seek(0)
        said = err.read()

    # Ctrl-C stopped Auspice with it: nothing answers at its address any more
    assert stopped == 0
    assert said.rstrip().endswith("Stopped Auspice.")
    with pytest.raises(OSError):  # refused, by whichever address localhost names
        urllib.request.urlopen(address, timeout=5)

    # Then only the run's auspice/ files were fetched, and Auspice draws every tip of the run's tree
    assert files_under(views) == {"auspice/example.json"}
    tree = json.loads((views / "auspice" / "example.json").read_text())["tree"]
    shown = TipLabels()
    shown.feed(page)
    assert sorted(shown.labels) == sorted(leaves(tree))
    assert len(shown.labels) == 14
    assert screenshot.stat().st_size > 20_000  # a picture of the tree, not an empty page
    # And the person is told where it is, and that no browser could be opened
    assert f"Auspice is showing run {run_id}'s tree at {address}; Ctrl-C stops it." in said
    assert f"Could not open a browser here: open Auspice at {address} in one yourself." in said
