"""``HOST:PORT`` as Toxiproxy writes addresses: ``127.0.0.1:8474``, ``[::1]:80``, ``redis:6379``."""

from __future__ import annotations

__all__ = ["Address", "format_address", "parse_address"]

Address = tuple[str, int]


def parse_address(text: str, *, default_host: str | None = None) -> Address:
    """``(host, port)`` from ``HOST:PORT``; with ``default_host``, ``:PORT`` and ``PORT`` too.

    Raises ``ValueError`` saying what was expected.
    """
    expected = "HOST:PORT" + (" or PORT" if default_host is not None else "")
    host, colon, port = text.strip().rpartition(":")
    if not colon:
        host, port = "", text.strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not host:
        if default_host is None:
            raise ValueError(f"expected {expected}, got {text!r}")
        host = default_host
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"expected {expected} with a port from 0 to 65535, got {text!r}")
    return host, int(port)


def format_address(address: Address) -> str:
    host, port = address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
