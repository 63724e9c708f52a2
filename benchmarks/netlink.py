"""A shaped link between two network namespaces, for benchmarks over something like a real uplink.

This kernel has tbf but no netem, so the delay is made in user space: a TUN device in each
namespace, joined by a relay that holds every packet for the one-way delay before passing it on.
tbf on each TUN device's egress sets the rate. Needs root (`ip netns`); `available()` says why not.
"""

from __future__ import annotations

import ctypes
import fcntl
import heapq
import os
import select
import shutil
import struct
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
CLONE_NEWNET = 0x40000000
SERVER_ADDRESS = "10.231.0.1"
CLIENT_ADDRESS = "10.231.0.2"


def available() -> str | None:
    """None when shaped links can be built here, else why not (one sentence)."""
    if os.geteuid() != 0:
        return "shaped links need root (ip netns, TUN devices)"
    if not shutil.which("ip") or not shutil.which("tc"):
        return "shaped links need iproute2 (ip, tc)"
    if not Path("/dev/net/tun").exists():
        return "shaped links need /dev/net/tun"
    return None


def _run(*command: str) -> None:
    subprocess.run(command, check=True, capture_output=True)


def _setns(fd: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "setns")


def _open_tun_in(namespace: str) -> int:
    """Open the namespace's tun0 from this thread, which then returns to its own namespace."""
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(f"/var/run/netns/{namespace}", os.O_RDONLY)
    try:
        _setns(target)
        try:
            return _open_tun("tun0")
        finally:
            _setns(home)
    finally:
        os.close(home)
        os.close(target)


def _open_tun(name: str) -> int:
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    return fd


@dataclass
class Link:
    name: str
    rate_mbit: float
    delay_ms: float  # each way

    @property
    def server(self) -> str:
        return f"{self.name}-s"

    @property
    def client(self) -> str:
        return f"{self.name}-c"


class ShapedLink:
    """Namespaces `<name>-s` (server, SERVER_ADDRESS) and `<name>-c` (client), joined by the relay."""

    def __init__(self, link: Link):
        self.link = link
        self._fds: list[int] = []
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> ShapedLink:
        link = self.link
        try:
            for namespace, mine, peer in (
                (link.server, SERVER_ADDRESS, CLIENT_ADDRESS),
                (link.client, CLIENT_ADDRESS, SERVER_ADDRESS),
            ):
                _run("ip", "netns", "add", namespace)
                _run("ip", "netns", "exec", namespace, "ip", "link", "set", "lo", "up")
                _run("ip", "netns", "exec", namespace, "ip", "tuntap", "add", "dev", "tun0", "mode", "tun")
                _run("ip", "netns", "exec", namespace, "ip", "addr", "add", mine, "peer", peer, "dev", "tun0")
                _run("ip", "netns", "exec", namespace, "ip", "link", "set", "tun0", "up", "txqueuelen", "1000")
                # Burst of a few packets and a queue of about 100 ms: a home router's, roughly.
                burst = max(16 * 1024, int(link.rate_mbit * 1e6 / 8 / 250))
                limit = max(64 * 1024, int(link.rate_mbit * 1e6 / 8 * 0.1))
                _run(
                    "ip", "netns", "exec", namespace, "tc", "qdisc", "add", "dev", "tun0", "root", "tbf",
                    "rate", f"{link.rate_mbit}mbit", "burst", str(burst), "limit", str(limit),
                )  # fmt: skip
                self._fds.append(_open_tun_in(namespace))
            server_fd, client_fd = self._fds
            for source, sink in ((server_fd, client_fd), (client_fd, server_fd)):
                thread = threading.Thread(target=self._relay, args=(source, sink), daemon=True)
                thread.start()
                self._threads.append(thread)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _relay(self, source: int, sink: int) -> None:
        """Hold each packet for the one-way delay, in order."""
        delay = self.link.delay_ms / 1000
        pending: list[tuple[float, int, bytes]] = []
        sequence = 0
        while not self._stop.is_set():
            now = time.monotonic()
            while pending and pending[0][0] <= now:
                try:
                    os.write(sink, heapq.heappop(pending)[2])
                except OSError:
                    pass
            timeout = max(0.0, pending[0][0] - now) if pending else 0.2
            readable, _, _ = select.select([source], [], [], timeout)
            if readable:
                try:
                    packet = os.read(source, 65536)
                except OSError:
                    continue
                sequence += 1
                heapq.heappush(pending, (time.monotonic() + delay, sequence, packet))

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=2)
        for fd in self._fds:
            os.close(fd)
        self._fds.clear()
        for namespace in (self.link.server, self.link.client):
            subprocess.run(["ip", "netns", "del", namespace], capture_output=True)
