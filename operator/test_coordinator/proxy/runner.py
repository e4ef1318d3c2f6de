"""``test-coordinator proxy``: fault proxies and their control API as a process of their own.

    test-coordinator proxy --listen 0.0.0.0:50052 --upstream risk-monitor:50051 \\
        --control 0.0.0.0:8474 --name risk-monitor
    test-coordinator proxy --proxy grpc=127.0.0.1:7001,127.0.0.1:50051 \\
        --proxy redis=127.0.0.1:7002,127.0.0.1:6379

Prints one line per proxy and one for the control API once all listen (a port 0 shows the port
it became), then serves until SIGTERM or SIGINT, which close every connection and exit 0.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from test_coordinator.errors import PlatformError, ScenarioInvalid
from test_coordinator.proxy.addresses import Address, format_address, parse_address
from test_coordinator.proxy.errors import Refused
from test_coordinator.proxy.server import DEFAULT_CONTROL_PORT, ProxyServer

__all__ = ["ProxySpec", "parse_proxy_spec", "run_proxy_command", "serve_proxies"]

DEFAULT_NAME = "proxy"
CONTROL_HOST = "127.0.0.1"  # the API changes what passes: only loopback unless asked
DEFAULT_CONTROL = f"{CONTROL_HOST}:{DEFAULT_CONTROL_PORT}"


@dataclass(frozen=True)
class ProxySpec:
    name: str
    listen: Address
    upstream: Address


def parse_proxy_spec(text: str) -> ProxySpec:
    """``NAME=LISTEN,UPSTREAM``, e.g. ``grpc=127.0.0.1:7001,127.0.0.1:50051``."""
    name, equals, addresses = text.partition("=")
    listen, comma, upstream = addresses.partition(",")
    if not (name and equals and comma):
        raise ValueError(f"expected NAME=LISTEN_HOST:PORT,UPSTREAM_HOST:PORT, got {text!r}")
    return ProxySpec(name, parse_address(listen), parse_address(upstream))


def run_proxy_command(
    *,
    listen: str | None,
    upstream: str | None,
    name: str | None,
    proxies: Sequence[str],
    control: str | None,
) -> int:
    """The command's arguments checked, then the proxies served until a signal; exit code.

    ``control`` defaults to 127.0.0.1:8474; a bare ``PORT`` or ``:PORT`` binds 127.0.0.1 too.
    """
    specs = _specs(listen=listen, upstream=upstream, name=name, proxies=proxies)
    try:
        control_address = parse_address(control or DEFAULT_CONTROL, default_host=CONTROL_HOST)
    except ValueError as error:
        raise ScenarioInvalid(f"--control: {error}") from None
    return asyncio.run(serve_proxies(specs, control=control_address))


def _specs(
    *, listen: str | None, upstream: str | None, name: str | None, proxies: Sequence[str]
) -> list[ProxySpec]:
    specs: list[ProxySpec] = []
    if (listen is None) != (upstream is None):
        raise ScenarioInvalid("proxy: --listen and --upstream go together: give both or neither")
    if listen is not None and upstream is not None:
        try:
            specs.append(
                ProxySpec(name or DEFAULT_NAME, parse_address(listen), parse_address(upstream))
            )
        except ValueError as error:
            raise ScenarioInvalid(f"--listen/--upstream: {error}") from None
    for text in proxies:
        try:
            specs.append(parse_proxy_spec(text))
        except ValueError as error:
            raise ScenarioInvalid(f"--proxy: {error}") from None
    if not specs:
        raise ScenarioInvalid(
            "proxy: nothing to proxy: give --listen HOST:PORT --upstream HOST:PORT, "
            "or --proxy NAME=LISTEN,UPSTREAM (repeatable)"
        )
    names = [spec.name for spec in specs]
    if len(set(names)) != len(names):
        raise ScenarioInvalid(f"proxy: each proxy needs a name of its own, got {names}")
    return specs


async def serve_proxies(specs: Sequence[ProxySpec], *, control: Address) -> int:
    """Serve until SIGTERM or SIGINT; then close every connection and return 0."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        async with ProxyServer() as server:
            try:
                for spec in specs:
                    proxy = await server.create_proxy(
                        spec.name, listen=spec.listen, upstream=spec.upstream
                    )
                    _say(
                        f"proxy {spec.name} listening on {format_address(proxy.listen)}, "
                        f"upstream {format_address(spec.upstream)}"
                    )
                url = await server.start_control(*control)
            except Refused as refused:
                raise PlatformError(refused.message) from None
            except OSError as error:
                where = format_address(control)
                raise PlatformError(
                    f"control API: cannot listen on {where}: {error.strerror or error}"
                ) from None
            _say(f"control API on {url}")
            await stop.wait()
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
    return 0


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()
