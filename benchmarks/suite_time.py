"""The test suite's wall time, `make test` as CI runs it, in a checkout: one measurement per run, added to
benchmarks/results/suite.json under a label, with the machine's load before and after (the suite shares the
machine's cores with whatever else runs) and the random order's seed. The run's whole output is kept beside it,
in benchmarks/results/suite-LABEL.log (not committed).

Usage: python benchmarks/suite_time.py LABEL [--checkout DIR] [-- MAKE ARGS...]
       e.g. python benchmarks/suite_time.py after      (this checkout, `make test`)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "suite.json"
SEED = re.compile(r"--randomly-seed=(\d+)")
SUMMARY = re.compile(r"^=+ (.*\b(?:passed|failed)\b.*) =+$", re.MULTILINE)


def load() -> list[float]:
    """The 1, 5 and 15 minute load averages."""
    return [round(value, 2) for value in os.getloadavg()]


def measure(checkout: Path, make_args: list[str], log: Path) -> dict[str, object]:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=checkout, capture_output=True, text=True)
    command = ["make", "test", *make_args]
    before = load()
    started = time.monotonic()
    done = subprocess.run(command, cwd=checkout, capture_output=True, text=True, check=False)
    seconds = time.monotonic() - started
    output = done.stdout + done.stderr
    log.write_text(output)
    seed = SEED.search(output)
    summaries = SUMMARY.findall(output)
    return {
        "commit": commit.stdout.strip(),
        "command": " ".join(command),
        "wall_seconds": round(seconds, 1),
        "exit_code": done.returncode,
        "pytest_summary": summaries[-1] if summaries else None,
        "random_seed": int(seed.group(1)) if seed else None,
        "load_before": before,
        "load_after": load(),
        "cores": os.cpu_count(),
        "measured_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def _split(arguments: list[str]) -> tuple[list[str], list[str]]:
    at = arguments.index("--")
    return arguments[:at], arguments[at + 1 :]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("label")
    parser.add_argument("--checkout", type=Path, default=Path(__file__).resolve().parents[1])
    # What follows -- goes to make as it is (make's own options included).
    ours, make_args = (sys.argv[1:], []) if "--" not in sys.argv else _split(sys.argv[1:])
    options = parser.parse_args(ours)
    options.make_args = make_args

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    result = measure(options.checkout, options.make_args, RESULTS.with_name(f"suite-{options.label}.log"))
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results[options.label] = result
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")

    print(f"{'label':<10} {'wall (s)':>9} {'exit':>5} {'load before':>18} {'load after':>18}  pytest")
    for label, entry in results.items():
        print(
            f"{label:<10} {entry['wall_seconds']:>9} {entry['exit_code']:>5} {str(entry['load_before']):>18}"
            f" {str(entry['load_after']):>18}  {entry['pytest_summary']}"
        )
    return 0 if result["exit_code"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
