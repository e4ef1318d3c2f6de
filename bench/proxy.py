"""What the fault proxy costs when no toxic is set: added latency per request, and throughput.

Three processes on loopback, as in use: an upstream (a threaded echo server and a sink), the
proxy (``test-coordinator proxy``), and this client with blocking sockets. Direct and proxied
requests alternate in blocks, so that a neighbour's load hits both alike.

- added latency: 64-byte requests echoed on one open connection; p50 and p99 of proxied minus
  direct (goal: <= 0.2 ms added at p50);
- throughput: bytes streamed one way to the sink, through the proxy (goal: >= 500 MB/s).
"""

from __future__ import annotations

import re
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable

REQUESTS, BLOCK, WARM_UP = 6000, 500, 300
MESSAGE = b"x" * 64
STREAMED, STREAM_RUNS = 512 * 1024 * 1024, 3
GOAL_ADDED_P50_MS, GOAL_MB_PER_S = 0.2, 500.0


def main() -> None:
    upstream = subprocess.Popen(
        [sys.executable, "-m", "bench.proxy", "--upstream"], stdout=subprocess.PIPE, text=True
    )
    proxy: subprocess.Popen[str] | None = None
    try:
        assert upstream.stdout is not None
        echo, sink = map(int, upstream.stdout.readline().split())
        proxy = subprocess.Popen(
            [sys.executable, "-m", "test_coordinator.cli", "proxy", "--control", "0",
             "--proxy", f"echo=127.0.0.1:0,127.0.0.1:{echo}",
             "--proxy", f"sink=127.0.0.1:0,127.0.0.1:{sink}"],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        proxied = _proxy_ports(proxy)
        print("fault proxy, no toxic (`test-coordinator proxy` in its own process, loopback):")
        _latency(direct=echo, proxied=proxied["echo"])
        _connection_setup(direct=echo, proxied=proxied["echo"])
        _throughput(direct=sink, proxied=proxied["sink"])
    finally:
        for process in (proxy, upstream):  # the PIDs this bench started
            if process is not None:
                process.terminate()
                process.wait(timeout=10)


def _proxy_ports(proxy: subprocess.Popen[str]) -> dict[str, int]:
    assert proxy.stdout is not None
    ports: dict[str, int] = {}
    for line in proxy.stdout:
        if match := re.match(r"proxy (\S+) listening on \S+:(\d+),", line):
            ports[match[1]] = int(match[2])
        if line.startswith("control API on "):
            return ports
    raise RuntimeError("the proxy exited before it was ready")


def _latency(*, direct: int, proxied: int) -> None:
    samples: dict[int, list[float]] = {direct: [], proxied: []}
    connections = {port: _connect(port) for port in samples}
    for connection in connections.values():
        _requests(connection, WARM_UP)
    for _ in range(REQUESTS // BLOCK):
        for port, connection in connections.items():
            samples[port] += _requests(connection, BLOCK)
    for connection in connections.values():
        connection.close()
    (d50, d99), (p50, p99) = (_percentiles(samples[port]) for port in (direct, proxied))
    print(
        f"  request latency, {REQUESTS} echoes of {len(MESSAGE)} B on one connection: "
        f"direct p50 {d50:.3f} ms, p99 {d99:.3f} ms; proxied p50 {p50:.3f} ms, p99 {p99:.3f} ms"
    )
    added = p50 - d50
    print(
        f"  added by the proxy: p50 {added:.3f} ms "
        f"(goal <= {GOAL_ADDED_P50_MS} ms: {_verdict(added <= GOAL_ADDED_P50_MS)}), "
        f"p99 {p99 - d99:.3f} ms"
    )


def _connection_setup(*, direct: int, proxied: int) -> None:
    figures = []
    for port in (direct, proxied):
        times = []
        for _ in range(300):
            began = time.perf_counter()
            connection = _connect(port)
            _requests(connection, 1)
            times.append(time.perf_counter() - began)
            connection.close()
        figures.append(_percentiles(times)[0])
    print(
        f"  new connection + first echo, p50: direct {figures[0]:.3f} ms, "
        f"proxied {figures[1]:.3f} ms"
    )


def _throughput(*, direct: int, proxied: int) -> None:
    rates = {port: statistics.median(_stream(port) for _ in range(STREAM_RUNS)) for port in
             (direct, proxied)}  # fmt: skip
    print(
        f"  streamed {STREAMED // 2**20} MiB one way, median of {STREAM_RUNS}: "
        f"direct {rates[direct]:.0f} MB/s, proxied {rates[proxied]:.0f} MB/s "
        f"(goal >= {GOAL_MB_PER_S:.0f} MB/s: {_verdict(rates[proxied] >= GOAL_MB_PER_S)})"
    )


def _connect(port: int) -> socket.socket:
    connection = socket.create_connection(("127.0.0.1", port))
    connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return connection


def _requests(connection: socket.socket, count: int) -> list[float]:
    times = []
    buffer = bytearray(len(MESSAGE))
    for _ in range(count):
        began = time.perf_counter()
        connection.sendall(MESSAGE)
        got = 0
        while got < len(MESSAGE):
            got += connection.recv_into(memoryview(buffer)[got:])
        times.append(time.perf_counter() - began)
    return times


def _stream(port: int) -> float:
    """MB/s of ``STREAMED`` bytes to the sink, until it has counted them all."""
    connection = _connect(port)
    chunk = memoryview(bytearray(1024 * 1024))
    began = time.perf_counter()
    for _ in range(STREAMED // len(chunk)):
        connection.sendall(chunk)
    connection.shutdown(socket.SHUT_WR)
    counted = int(connection.recv(64))
    elapsed = time.perf_counter() - began
    connection.close()
    assert counted == STREAMED, f"the sink counted {counted} bytes of {STREAMED}"
    return STREAMED / elapsed / 1e6


def _percentiles(seconds: list[float]) -> tuple[float, float]:
    ordered = sorted(seconds)
    return ordered[len(ordered) // 2] * 1000, ordered[int(len(ordered) * 0.99)] * 1000


def _verdict(met: bool) -> str:
    return "met" if met else "NOT met"


# -- the upstream process -------------------------------------------------------------------


def _echo(connection: socket.socket) -> None:
    connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buffer = bytearray(64 * 1024)
    view = memoryview(buffer)
    while count := connection.recv_into(buffer):
        connection.sendall(view[:count])
    connection.close()


def _sink(connection: socket.socket) -> None:
    buffer = bytearray(1024 * 1024)
    total = 0
    while count := connection.recv_into(buffer):
        total += count
    connection.sendall(str(total).encode())
    connection.close()


def _serve_upstream() -> None:
    """An echo and a sink on free loopback ports, printed; a thread per connection."""

    def accept(listener: socket.socket, serve: Callable[[socket.socket], None]) -> None:
        while True:
            connection, _ = listener.accept()
            threading.Thread(target=serve, args=(connection,), daemon=True).start()

    ports = []
    for serve in (_echo, _sink):
        listener = socket.create_server(("127.0.0.1", 0), backlog=128)
        ports.append(listener.getsockname()[1])
        threading.Thread(target=accept, args=(listener, serve), daemon=True).start()
    print(*ports, flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    if sys.argv[1:] == ["--upstream"]:
        _serve_upstream()
    else:
        main()
