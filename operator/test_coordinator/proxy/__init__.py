"""The fault proxy: a TCP proxy that network faults act through, and its control API.

Toxiproxy's model and HTTP API (proxies; toxics ``latency``, ``bandwidth``, ``timeout``,
``reset_peer``), so a Toxiproxy can stand in for it, plus leases: a toxic may carry
``lease_seconds``, and the proxy removes it when the lease lapses without an update.

- ``ProxyServer``: proxies in this process, and their control API (``start_control``);
- ``FaultProxy``: one of them;
- ``ProxyControl``: the API's client; ``hold`` keeps a toxic, renewing its lease (``HeldToxic``);
- ``Toxic``: a toxic as the API writes it;
- ``run_proxy_command``: ``test-coordinator proxy``.

The lowest layer: it imports nothing of test-coordinator's but its errors.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from test_coordinator.proxy.addresses import Address, format_address, parse_address
    from test_coordinator.proxy.client import (
        DEFAULT_LEASE_SECONDS,
        HeldToxic,
        ProxyControl,
        ProxyInfo,
        ServerInfo,
    )
    from test_coordinator.proxy.errors import ProxyControlError, Refused, ToxicHeld
    from test_coordinator.proxy.proxy import FaultProxy
    from test_coordinator.proxy.runner import ProxySpec, run_proxy_command, serve_proxies
    from test_coordinator.proxy.server import DEFAULT_CONTROL_PORT, ProxyServer
    from test_coordinator.proxy.toxics import ATTRIBUTES, STREAMS, Stream, Toxic

# The names load on first use: a platform holding toxics needs the client, not the server.
_HOME = {
    "ATTRIBUTES": "toxics",
    "Address": "addresses",
    "DEFAULT_CONTROL_PORT": "server",
    "DEFAULT_LEASE_SECONDS": "toxics",
    "FaultProxy": "proxy",
    "HeldToxic": "client",
    "ProxyControl": "client",
    "ProxyControlError": "errors",
    "ProxyInfo": "client",
    "ProxyServer": "server",
    "ProxySpec": "runner",
    "Refused": "errors",
    "STREAMS": "toxics",
    "ServerInfo": "client",
    "Stream": "toxics",
    "Toxic": "toxics",
    "ToxicHeld": "errors",
    "format_address": "addresses",
    "parse_address": "addresses",
    "run_proxy_command": "runner",
    "serve_proxies": "runner",
}

__all__ = [
    "ATTRIBUTES",
    "DEFAULT_CONTROL_PORT",
    "DEFAULT_LEASE_SECONDS",
    "STREAMS",
    "Address",
    "FaultProxy",
    "HeldToxic",
    "ProxyControl",
    "ProxyControlError",
    "ProxyInfo",
    "ProxyServer",
    "ProxySpec",
    "Refused",
    "ServerInfo",
    "Stream",
    "Toxic",
    "ToxicHeld",
    "format_address",
    "parse_address",
    "run_proxy_command",
    "serve_proxies",
]


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOME[name]}"), name)
