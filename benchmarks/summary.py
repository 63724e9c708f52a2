"""The benchmarks' results in one flat JSON (benchmarks/results/summary.json), and the keys still missing.

Usage: python benchmarks/summary.py   (after transfer.py and scale.py have written their results)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
SOURCES = ("transfer.json", "transfer-compressed.json", "list.json", "scale.json")
KEYS = (
    "push_ratio_vs_nextstrain_cli_20mbit",
    "push_ratio_vs_nextstrain_cli_100mbit",
    "push_ratio_vs_nextstrain_cli_loopback",
    "push_ratio_vs_raw_upload_20mbit",
    "push_ratio_vs_nextstrain_cli_loopback_compressed",
    "push_ratio_vs_nextstrain_cli_100mbit_compressed",
    "pull_ratio_vs_nextstrain_cli_loopback_compressed",
    "pull_ratio_vs_nextstrain_cli_100mbit_compressed",
    "push_peak_rss_mb_compressed",
    "pull_peak_rss_mb_compressed",
    "list_5000_runs_seconds",
    "list_all_5000_runs_seconds",
    "pull_ratio_vs_nextstrain_cli_20mbit",
    "pull_ratio_vs_nextstrain_cli_100mbit",
    "pull_ratio_vs_nextstrain_cli_loopback",
    "repull_ratio_vs_full",
    "repull_ratio_vs_nextstrain_cli_20mbit",
    "push_peak_rss_mb",
    "pull_peak_rss_mb",
    "logs_1m_peak_rss_mb",
    "logs_1m_seconds",
    "transitions_per_run",
    "lambda_invocations_per_run",
    "orchestration_usd_per_run",
    "scale_runs",
    "scale_duplicates",
    "scale_notices",
    "scale_latency_median_s",
    "scale_latency_max_s",
    "scale_runs_succeeded",
    "scale_all_ended_seconds",
    "scale_backend_peak_rss_mb",
    "scale_tree_peak_rss_mb",
)


def main() -> int:
    summary: dict[str, object] = {}
    for name in SOURCES:
        path = RESULTS / name
        if path.exists():
            summary |= {k: v for k, v in json.loads(path.read_text()).items() if k != "time"}
    (RESULTS / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    missing = [key for key in KEYS if key not in summary]
    for key in KEYS:
        print(f"{key:42} {summary.get(key, 'MISSING')}")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
