"""Push and pull against the Nextstrain CLI's upload_workdir / download_workdir, over shaped links.

For each link (20 Mbit/s and 100 Mbit/s with 20 ms each way, between two network namespaces; and
loopback) a moto S3 server runs on the server side, and every transfer runs as its own process on
the client side, interleaved with the baseline's (A B A B ...). Every figure is a ratio of medians.
The baseline is the Nextstrain CLI from PyPI in its own venv (--baseline-python). Data comes from
benchmarks/makedata.py: FASTA-like text, or (--compressed) a build whose large inputs are already
xz, zstd and gzip files. Both tools pull into a copy of the build folder, where `nextstrain build`
downloads its results: the same files end up written. Peak RSS is each transfer process's own high-water
mark (VmHWM, reported by the process itself), so it never includes this process's memory. Writes flat JSON
(--output); the compressed data set's keys end in `_compressed`. `--code` times another checkout's
nsclient (for before and after).

Usage: python benchmarks/transfer.py [--size-mb 200] [--repeats 3] [--links 20,100,loopback] [--compressed]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import netlink  # noqa: E402
from makedata import make_build, make_compressed_build, make_results  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OPS = ROOT / "benchmarks" / "transfer_ops.py"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# Of this run's own (a port, namespaces named by the process), so that two benchmarks on one machine never meet.
PORT = _free_port()
LINKS = {
    "20": netlink.Link(f"nsb20-{os.getpid()}", 20, 20),
    "100": netlink.Link(f"nsb100-{os.getpid()}", 100, 20),
    "loopback": None,
}
# Pairs run back to back in each round: (baseline, ours).
ROUND = ["ns-upload", "push", "raw-upload", "ns-download", "pull", "ns-unchanged", "repull"]


def _namespace(prefix: str | None) -> list[str]:
    return ["ip", "netns", "exec", prefix] if prefix else []


def _environment(endpoint: str, home: Path, code: Path = ROOT) -> dict[str, str]:
    return {
        **os.environ,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "NEXTSTRAIN_HOME": str(home),
        "PYTHONPATH": os.pathsep.join(str(code / p) for p in ("client", "functions/common", "")),
    }


def _run_op(python: str, namespace: str | None, env: dict[str, str], operation: str, path: Path, name: str) -> dict:
    """Run one transfer as its own process; its seconds and peak RSS, both as the process measured them.

    Not os.wait4's ru_maxrss: a child forked from this large process starts with this process's
    high-water mark, which wait4 reports (a `python -c pass` child showed 314 MB). The child reads its
    own VmHWM instead, which exec resets with the address space."""
    command = [*_namespace(namespace), python, str(OPS), operation, str(path), name]
    done = subprocess.run(command, env=env, capture_output=True)
    if done.returncode != 0:
        raise RuntimeError(f"{operation} failed: {done.stderr.decode()[-2000:]}")
    return json.loads(done.stdout.decode().strip().splitlines()[-1])


def _start_server(namespace: str | None, host: str, env: dict[str, str]) -> subprocess.Popen:
    command = [*_namespace(namespace), sys.executable, "-m", "moto.server", "-H", host, "-p", str(PORT)]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    probe = [
        *_namespace(namespace),
        sys.executable,
        "-c",
        f"import socket; socket.create_connection(('{host}', {PORT}), 1)",
    ]
    for _ in range(100):
        if subprocess.run(probe, capture_output=True).returncode == 0:
            return server
        time.sleep(0.2)
    server.kill()
    raise RuntimeError("the moto server did not start")


def _seed_bucket(env: dict[str, str], data: Path) -> str:
    """The upload's zip as the first version of the run's workdir.zip, the job's results as the second;
    the first's version id, which the run record names."""
    import boto3

    s3: Any = boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], region_name="us-east-1",
                           aws_access_key_id="bench", aws_secret_access_key="bench")  # fmt: skip
    s3.create_bucket(Bucket="bench")
    s3.put_bucket_versioning(Bucket="bench", VersioningConfiguration={"Status": "Enabled"})
    s3.upload_file(str(data / "upload.zip"), "bench", "runs/r/workdir.zip")
    uploaded = str(s3.head_object(Bucket="bench", Key="runs/r/workdir.zip")["VersionId"])
    s3.upload_file(str(data / "results.zip"), "bench", "runs/r/workdir.zip")
    return uploaded


def bench_link(
    label: str, link: netlink.Link | None, data: Path, repeats: int, baseline: str, code: Path = ROOT
) -> dict[str, Any]:
    times: dict[str, list[float]] = {op: [] for op in ROUND}
    rss: dict[str, list[float]] = {op: [] for op in ROUND}
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="nsbench-") as scratch:
        if link is None:
            server_ns = client_ns = None
            host = "127.0.0.1"
        else:
            stack.enter_context(netlink.ShapedLink(link))
            server_ns, client_ns, host = link.server, link.client, netlink.SERVER_ADDRESS
        env = _environment(f"http://{host}:{PORT}", Path(scratch) / "home", code)
        server = _start_server(server_ns, host, env)
        stack.callback(server.wait)
        stack.callback(server.terminate)
        if link is None:
            uploaded = _seed_bucket(env, data)
        else:  # the bucket is filled from the server's side, so seeding costs no shaped transfer
            seeding = (
                f"import sys; sys.path.insert(0, {str(ROOT / 'benchmarks')!r}); import transfer; "
                f"print(transfer._seed_bucket({{'AWS_ENDPOINT_URL': 'http://{host}:{PORT}'}}, "
                f"transfer.Path({str(data)!r})))"
            )
            seed = [*_namespace(server_ns), sys.executable, "-c", seeding]
            uploaded = subprocess.run(seed, check=True, env=env, capture_output=True, text=True).stdout.split()[-1]
        env["BENCH_INPUT_VERSION"] = uploaded  # as pull reads it from the run record
        for repeat in range(repeats):
            # Each tool pulls into its own copy of the build folder, as `nextstrain build` downloads into it.
            pulled_ns, pulled_ours = Path(scratch) / f"ns-{repeat}", Path(scratch) / f"ours-{repeat}"
            shutil.copytree(data / "build", pulled_ns)
            shutil.copytree(data / "build", pulled_ours)
            plan = {
                "ns-upload": (baseline, data / "build"),
                "push": (sys.executable, data / "build"),
                "raw-upload": (sys.executable, data / "upload.zip"),
                "ns-download": (baseline, pulled_ns),
                "pull": (sys.executable, pulled_ours),
                "ns-unchanged": (baseline, pulled_ns),
                "repull": (sys.executable, pulled_ours),
            }
            for op in ROUND:
                python, path = plan[op]
                operation = {"ns-unchanged": "ns-download"}.get(op, op)
                result = _run_op(python, client_ns, env, operation, path, f"{label}-{repeat}-{op}")
                times[op].append(result["seconds"])
                rss[op].append(result["peak_rss_mb"])
                print(
                    f"  {label} #{repeat + 1} {op:13} {result['seconds']:7.2f} s  {result['peak_rss_mb']:6.0f} MB",
                    flush=True,
                )
            shutil.rmtree(pulled_ns)
            shutil.rmtree(pulled_ours)
    return {
        "seconds": {op: statistics.median(values) for op, values in times.items()},
        "peak_rss_mb": {op: max(values) for op, values in rss.items()},
        "runs": times,
    }


def prepare_data(directory: Path, size_mb: int, compressed: bool = False) -> Path:
    from nsclient.transfer.folder import upload_members
    from nsclient.transfer.zipstream import zip_stream

    marker = directory / f".made-{size_mb}"
    if not marker.exists():
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        (make_compressed_build if compressed else make_build)(directory / "build", size_mb)
        make_results(directory / "build", directory / "results.zip")
        with (directory / "upload.zip").open("wb") as handle:
            zip_stream(upload_members(directory / "build"), handle.write)
        marker.touch()
    return directory


def table(results: dict[str, dict[str, Any]]) -> str:
    header = ("link", "NS upload", "push", "raw upload", "NS download", "pull", "NS unchanged", "re-pull")
    rows = [header]
    for label, result in results.items():
        s = result["seconds"]
        rows.append((
            {"20": "20 Mbit/s, 20 ms", "100": "100 Mbit/s, 20 ms"}.get(label, label),
            f"{s['ns-upload']:.1f} s",
            f"{s['push']:.1f} s ({s['push'] / s['ns-upload']:.2f}x)",
            f"{s['raw-upload']:.1f} s",
            f"{s['ns-download']:.1f} s",
            f"{s['pull']:.1f} s ({s['pull'] / s['ns-download']:.2f}x)",
            f"{s['ns-unchanged']:.2f} s",
            f"{s['repull']:.2f} s ({s['repull'] / s['ns-unchanged']:.2f}x)",
        ))  # fmt: skip
    return "\n".join("| " + " | ".join(row) + " |" for row in [rows[0], tuple("---" for _ in header), *rows[1:]])


def flat(results: dict[str, dict[str, Any]], data_set: str = "") -> dict[str, Any]:
    """The figures as flat keys, each ending in `data_set` (`_compressed` for the compressed data set)."""
    report: dict[str, Any] = {}
    for label, result in results.items():
        s = result["seconds"]
        suffix = "loopback" if label == "loopback" else f"{label}mbit"
        report[f"push_ratio_vs_nextstrain_cli_{suffix}"] = s["push"] / s["ns-upload"]
        report[f"push_ratio_vs_raw_upload_{suffix}"] = s["push"] / s["raw-upload"]
        report[f"pull_ratio_vs_nextstrain_cli_{suffix}"] = s["pull"] / s["ns-download"]
        report[f"repull_ratio_vs_nextstrain_cli_{suffix}"] = s["repull"] / s["ns-unchanged"]
        report[f"repull_ratio_vs_full_{suffix}"] = s["repull"] / s["pull"]
        for op, seconds in s.items():
            report[f"seconds_{op.replace('-', '_')}_{suffix}"] = seconds
    first = next(iter(results.values()))
    report["repull_ratio_vs_full"] = max(v for k, v in report.items() if k.startswith("repull_ratio_vs_full_"))
    report["push_peak_rss_mb"] = max(r["peak_rss_mb"]["push"] for r in results.values())
    report["pull_peak_rss_mb"] = max(
        max(r["peak_rss_mb"]["pull"], r["peak_rss_mb"]["repull"]) for r in results.values()
    )
    report["nextstrain_cli_upload_peak_rss_mb"] = max(r["peak_rss_mb"]["ns-upload"] for r in results.values())
    report["nextstrain_cli_download_peak_rss_mb"] = max(r["peak_rss_mb"]["ns-download"] for r in results.values())
    report["repeats"] = len(first["runs"]["push"])
    return {f"{key}{data_set}": value for key, value in report.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--links", default="20,100,loopback")
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "nsclient-bench-data")
    parser.add_argument("--baseline-python", default="/work/bench-venv/bin/python")
    parser.add_argument("--compressed", action="store_true", help="the build whose large inputs are compressed")
    parser.add_argument("--code", type=Path, default=ROOT, help="the checkout whose nsclient is timed")
    parser.add_argument("--output", type=Path, help="default benchmarks/results/transfer[-compressed].json")
    options = parser.parse_args()
    name = "transfer-compressed" if options.compressed else "transfer"
    options.output = options.output or ROOT / "benchmarks" / "results" / f"{name}.json"
    sys.path[:0] = [str(ROOT / "client"), str(ROOT / "functions" / "common")]
    folder = f"{options.size_mb}-compressed" if options.compressed else str(options.size_mb)
    data = prepare_data(options.data / folder, options.size_mb, options.compressed)
    files = sum(1 for p in (data / "build").rglob("*") if p.is_file())
    size = sum(p.stat().st_size for p in (data / "build").rglob("*") if p.is_file())
    upload_mb, results_mb = ((data / name).stat().st_size / 1e6 for name in ("upload.zip", "results.zip"))
    print(
        f"build: {files:,} files, {size / 1e6:.0f} MB; upload zip {upload_mb:.1f} MB; results zip {results_mb:.1f} MB"
    )
    results: dict[str, dict[str, Any]] = {}
    skipped = netlink.available()
    for label in options.links.split(","):
        link = LINKS[label]
        if link is not None and skipped:
            print(f"skipping the {label} Mbit/s link: {skipped}")
            continue
        try:
            results[label] = bench_link(label, link, data, options.repeats, options.baseline_python, options.code)
        except RuntimeError as error:  # one link's failure (a server error) keeps the others' figures
            print(f"the {label} link failed: {str(error)[-300:]}")
    print(table(results))
    suffix = "_compressed" if options.compressed else ""
    report = {**flat(results, suffix), f"links{suffix}": list(results), "time": time.time()}
    if not options.compressed:
        environment = _environment("http://unused", options.data, options.code)
        logs = _run_op(sys.executable, None, environment, "logs", options.data, "1000000")
        print(f"log archive, 1,000,000 lines: {logs['seconds']:.1f} s, {logs['peak_rss_mb']:.0f} MB peak RSS")
        report |= {
            "logs_1m_seconds": logs["seconds"],
            "logs_1m_peak_rss_mb": logs["peak_rss_mb"],
            "size_mb": options.size_mb,
            "files": files,
        }
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(json.dumps(report, indent=2, sort_keys=True))
    print(f"wrote {options.output}")


if __name__ == "__main__":
    main()
