"""Whether a shaped link (benchmarks/netlink.py) is fair to one TCP flow, and what an S3 upload makes of it.

Over the link, from the client namespace to the server one: plain TCP (one flow, then several, each
sending its share of the same bytes), then the same file uploaded to a moto S3 server with
nsclient's StreamingUpload at several numbers of parts in flight (1 is how the Nextstrain CLI sends,
a part at a time). The upload's time is split into sending the parts and S3's completing them, which
moto does in Python, concatenating the parts. Prints a table and writes benchmarks/results/link.json.
Needs root (network namespaces).

Usage: python benchmarks/link_check.py [--rate 100] [--mb 100] [--file upload.zip] [--parts 1,4,10]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import netlink  # noqa: E402
import transfer  # noqa: E402

RECEIVER = r"""
import socket, sys, threading
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind((sys.argv[1], 5999))
server.listen(64)
def drain(connection):
    while connection.recv(1 << 20):
        pass
    connection.close()
print("ready", flush=True)
while True:
    connection, _ = server.accept()
    threading.Thread(target=drain, args=(connection,), daemon=True).start()
"""

SENDER = r"""
import json, socket, sys, threading, time
host, flows, total = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
block = b"x" * (1 << 20)
def send(size):
    connection = socket.create_connection((host, 5999))
    sent = 0
    while sent < size:
        connection.sendall(block)
        sent += len(block)
    connection.shutdown(socket.SHUT_WR)
    connection.recv(1)
started = time.perf_counter()
threads = [threading.Thread(target=send, args=(total // flows,)) for _ in range(flows)]
[thread.start() for thread in threads]
[thread.join() for thread in threads]
print(json.dumps({"seconds": time.perf_counter() - started, "bytes": total // flows * flows}))
"""

UPLOADER = r"""
import json, sys, time
import boto3
from botocore.config import Config
import nsclient.transfer as streaming
streaming.CONCURRENCY = int(sys.argv[1])
s3 = boto3.client("s3", config=Config(max_pool_connections=16))
complete = s3.complete_multipart_upload
phases = {}
def timed(**arguments):
    phases["sending"] = time.perf_counter() - started
    response = complete(**arguments)
    phases["completing"] = time.perf_counter() - started - phases["sending"]
    return response
s3.complete_multipart_upload = timed
started = time.perf_counter()
with streaming.StreamingUpload(s3, "bench", f"check/{sys.argv[1]}.zip", {}) as upload, open(sys.argv[2], "rb") as data:
    while chunk := data.read(1 << 20):
        upload.write(chunk)
phases["seconds"] = time.perf_counter() - started
phases["bytes"] = upload.size
print(json.dumps(phases))
"""


def _in(namespace: str, *command: str) -> list[str]:
    return ["ip", "netns", "exec", namespace, *command]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=100, help="Mbit/s")
    parser.add_argument("--delay", type=float, default=20, help="ms each way")
    parser.add_argument("--mb", type=int, default=100, help="MB sent by plain TCP")
    parser.add_argument("--flows", default="1,4")
    parser.add_argument("--file", type=Path, help="uploaded to S3 (default: none)")
    parser.add_argument("--parts", default="1,4,10", help="parts in flight, each tried in turn")
    parser.add_argument("--output", type=Path, default=transfer.ROOT / "benchmarks" / "results" / "link.json")
    options = parser.parse_args()
    if reason := netlink.available():
        sys.exit(reason)
    link = netlink.Link(f"nslc-{os.getpid()}", options.rate, options.delay)
    report: dict[str, object] = {"rate_mbit": options.rate, "delay_ms": options.delay, "load": os.getloadavg()}
    rows = [("what", "MB", "seconds", "MB/s")]
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="nslc-") as scratch:
        stack.enter_context(netlink.ShapedLink(link))
        host = netlink.SERVER_ADDRESS
        receiver = subprocess.Popen(
            _in(link.server, sys.executable, "-c", RECEIVER, host), stdout=subprocess.PIPE, text=True
        )
        stack.callback(receiver.wait)
        stack.callback(receiver.kill)
        assert receiver.stdout is not None
        receiver.stdout.readline()
        for flows in (int(n) for n in options.flows.split(",")):
            command = _in(link.client, sys.executable, "-c", SENDER, host, str(flows), str(options.mb * 1_000_000))
            result = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
            report[f"tcp_{flows}_flows_mb_per_s"] = result["bytes"] / result["seconds"] / 1e6
            rows.append((f"TCP, {flows} flow(s)", f"{result['bytes'] / 1e6:.0f}", f"{result['seconds']:.2f}",
                         f"{result['bytes'] / result['seconds'] / 1e6:.2f}"))  # fmt: skip
        if options.file:
            env = transfer._environment(f"http://{host}:{transfer.PORT}", Path(scratch) / "home")
            server = transfer._start_server(link.server, host, env)
            stack.callback(server.wait)
            stack.callback(server.terminate)
            make = "import boto3; boto3.client('s3').create_bucket(Bucket='bench')"
            subprocess.run(_in(link.server, sys.executable, "-c", make), check=True, env=env)
            for parts in options.parts.split(","):
                command = _in(link.client, sys.executable, "-c", UPLOADER, parts, str(options.file))
                result = json.loads(subprocess.run(command, check=True, env=env, capture_output=True, text=True).stdout)
                sending = result.get("sending", result["seconds"])
                report[f"s3_{parts}_parts"] = result
                rows.append((f"S3 upload, {parts} part(s) in flight: sending", f"{result['bytes'] / 1e6:.1f}",
                             f"{sending:.2f}", f"{result['bytes'] / sending / 1e6:.2f}"))  # fmt: skip
                whole = result["seconds"]
                rows.append((f"S3 upload, {parts} part(s) in flight: whole", f"{result['bytes'] / 1e6:.1f}",
                             f"{whole:.2f}", f"{result['bytes'] / whole / 1e6:.2f}"))  # fmt: skip
    print(f"{options.rate:g} Mbit/s, {options.delay:g} ms each way; load {report['load']}")
    print("\n".join("| " + " | ".join(row) + " |" for row in rows))
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    print(f"wrote {options.output}")


if __name__ == "__main__":
    main()
