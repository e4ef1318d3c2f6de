"""A minimal service for platform and engine tests: answers HTTP 200 to any request on its
port, records its PID in a directory, and can be slow to start, deaf to SIGTERM, or start a
helper process of its own (which records its PID too, and only waits).

python tiny_service.py --port N --pid-dir DIR [--start-delay S] [--ignore-term] [--exit-at-start]
    [--helper]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pid-dir", type=Path, required=True)
    parser.add_argument("--start-delay", type=float, default=0.0)
    parser.add_argument("--ignore-term", action="store_true")
    parser.add_argument("--exit-at-start", action="store_true")
    parser.add_argument("--helper", action="store_true")
    args = parser.parse_args()
    if args.helper and os.fork() == 0:
        (args.pid_dir / str(os.getpid())).touch()
        while True:
            signal.pause()
    (args.pid_dir / str(os.getpid())).touch()
    print(f"tiny service pid {os.getpid()} starting on port {args.port}", flush=True)
    if args.exit_at_start:
        print("configuration error: refusing to start", flush=True)
        sys.exit(4)
    if args.ignore_term:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    else:
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    time.sleep(args.start_delay)
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", args.port))
        server.listen()
        # When it began to listen, for benchmarks that compare reported and true recovery.
        (args.pid_dir / f"{os.getpid()}.listening").write_text(repr(time.time()))
        while True:
            connection, _ = server.accept()
            with connection:
                connection.recv(4096)
                connection.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")


if __name__ == "__main__":
    main()
