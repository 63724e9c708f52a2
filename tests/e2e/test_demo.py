"""`nsclient demo` end to end, as a newcomer runs it: a real CLI process starting a real local
backend process, a real Snakemake build, results pulled, a notice in the outbox."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from nsclient_common.runid import build_name


@pytest.fixture
def demo_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_", "NSCLIENT_", "NEXTSTRAIN_"))}
    env["NEXTSTRAIN_HOME"] = str(tmp_path / "home")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    yield env
    subprocess.run([sys.executable, "-m", "nsclient", "local", "stop"], env=env, timeout=120, check=False)


def nsclient(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nsclient", *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.mark.slow
def test_demo_runs_the_example_build_end_to_end(demo_env: dict[str, str], tmp_path: Path) -> None:
    # Given a fresh machine (no config, no backend running)
    demo_dir = tmp_path / "demo"

    # When the newcomer runs the demo
    result = nsclient(demo_env, "demo", str(demo_dir))

    # Then it succeeds and says where the results and the notice are
    assert result.returncode == 0, result.stderr[-3000:]
    run_id = result.stdout.splitlines()[0]
    assert f"Results: {(demo_dir / 'auspice' / 'example.json').resolve()}" in result.stdout
    auspice = json.loads((demo_dir / "auspice" / "example.json").read_text())
    assert auspice["version"] == "v2"
    assert auspice["tree"]["children"], "the tree has leaves"
    assert (demo_dir / "results" / "summary.txt").is_file()

    notice_line = next(line for line in result.stdout.splitlines() if line.startswith("Notice:"))
    notice = message_from_bytes(Path(notice_line.split(":", 1)[1].strip()).read_bytes(), policy=policy.default)
    assert isinstance(notice, EmailMessage)
    # Named by the pushed folder, with how long the run took; the run id is in the body
    assert re.fullmatch(
        rf"\[nsclient\] {build_name(run_id.rsplit('-', 1)[0] + '.zip')} SUCCEEDED in \S+( \S+)?", notice["Subject"]
    )
    text = notice.get_body(("plain",))
    assert text is not None and f"nsclient pull {run_id}" in text.get_content()

    # And the run is on record, and survives a restart of the local backend
    status = json.loads(nsclient(demo_env, "status", run_id, "--json").stdout)
    assert status["status"] == "SUCCEEDED" and status["exit_code"] == 0
    assert nsclient(demo_env, "local", "stop").returncode == 0
    after = nsclient(demo_env, "status", run_id, "--json")
    assert after.returncode == 0, after.stderr
    assert json.loads(after.stdout)["status"] == "SUCCEEDED"
    log = nsclient(demo_env, "logs", run_id)
    assert "Finished jobid: 0 (Rule: all)" in log.stdout
