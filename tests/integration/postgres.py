"""A throwaway PostgreSQL cluster: ``initdb`` in a temporary directory, the server on a free
loopback port, run as the unprivileged ``postgres`` user when we are root (PostgreSQL refuses
to run as root), stopped by its PID. For tests and the bench; Debian's ``postgresql`` package
provides the binaries (``make system-deps`` and ``.ci/run`` install it)."""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from test_coordinator.platforms.local.stack import free_port

USER = "tc"  # the cluster's superuser; trust authentication on loopback only
_BIN_DIRS = "/usr/lib/postgresql/*/bin"


class PostgresMissing(RuntimeError):
    pass


@dataclass(frozen=True)
class PostgresCluster:
    port: int
    pid: int
    bin_dir: Path
    _databases: itertools.count[int]

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, prefix: str = "history") -> str:
        """A new empty database; its URL."""
        name = f"{prefix}_{next(self._databases)}"
        subprocess.run(
            [self.bin_dir / "createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", USER, name],
            check=True,
            capture_output=True,
            timeout=30,
        )
        return self.url(name)


def postgres_bin_dir() -> Path:
    """The newest installed server's binaries; PostgresMissing saying how to install them."""
    found = sorted(Path("/").glob(_BIN_DIRS.lstrip("/")), key=lambda p: int(p.parent.name))
    found = [path for path in found if (path / "initdb").exists() and (path / "postgres").exists()]
    if not found:
        raise PostgresMissing(
            f"PostgreSQL is not installed (no initdb in {_BIN_DIRS}): "
            "`apt-get install postgresql`, or run `make test`, which installs it"
        )
    return found[-1]


@contextmanager
def postgres_cluster(*, durable: bool = False) -> Iterator[PostgresCluster]:
    """A running cluster; ``durable=False`` turns fsync off, which tests do not need."""
    bin_dir = postgres_bin_dir()
    scratch = Path(tempfile.mkdtemp(prefix="history-pg-"))
    owner = _unprivileged_owner()
    data = scratch / "data"
    data.mkdir(mode=0o700)
    if owner is not None:
        scratch.chmod(0o755)  # the server's user must reach its data directory
        os.chown(data, owner.pw_uid, owner.pw_gid)
    as_owner: dict[str, object] = {}
    if owner is not None:
        as_owner = {"user": owner.pw_uid, "group": owner.pw_gid, "extra_groups": []}
    process: subprocess.Popen[bytes] | None = None
    try:
        subprocess.run(
            [bin_dir / "initdb", "-D", data, "-U", USER, "--auth=trust", "-E", "UTF8",
             "--no-sync", "--no-instructions"],
            check=True, capture_output=True, timeout=120, cwd=scratch, **as_owner,
        )  # fmt: skip
        port = free_port()
        settings = {
            "port": str(port),
            "listen_addresses": "127.0.0.1",
            "unix_socket_directories": "",
            "max_connections": "50",
        }
        if not durable:
            settings |= {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
        options = [part for key, value in settings.items() for part in ("-c", f"{key}={value}")]
        with (scratch / "server.log").open("wb") as log:  # the server keeps its own copy
            process = subprocess.Popen(
                [bin_dir / "postgres", "-D", data, *options],
                stdout=log, stderr=subprocess.STDOUT, cwd=scratch, **as_owner,
            )  # fmt: skip
        _wait_ready(bin_dir, port, process, scratch / "server.log")
        yield PostgresCluster(port, process.pid, bin_dir, itertools.count(1))
    finally:
        if process is not None:
            process.send_signal(signal.SIGINT)  # fast shutdown: clients disconnected
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(scratch, ignore_errors=True)


def _unprivileged_owner() -> pwd.struct_passwd | None:
    """Who runs the server: the ``postgres`` system user when we are root, else ourselves."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        raise PostgresMissing(
            "running as root and there is no `postgres` user to run the server as: "
            "`apt-get install postgresql` creates it"
        ) from None


def _wait_ready(
    bin_dir: Path, port: int, process: subprocess.Popen[bytes], log: Path, timeout: float = 60
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"postgres exited with {process.returncode}: {log.read_text()}")
        ready = subprocess.run(
            [bin_dir / "pg_isready", "-q", "-h", "127.0.0.1", "-p", str(port), "-U", USER],
            check=False, timeout=10,
        )  # fmt: skip
        if ready.returncode == 0:
            return
        time.sleep(0.05)
    raise TimeoutError(f"postgres on port {port} not ready after {timeout}s: {log.read_text()}")
