"""Several fault proxies in one process, and the HTTP control API that sets their toxics."""

from __future__ import annotations

import logging
from types import TracebackType

from aiohttp import web

from test_coordinator.proxy.addresses import Address, format_address
from test_coordinator.proxy.api import control_app
from test_coordinator.proxy.errors import Refused
from test_coordinator.proxy.proxy import FaultProxy

__all__ = ["DEFAULT_CONTROL_PORT", "ProxyServer"]

log = logging.getLogger(__name__)

DEFAULT_CONTROL_PORT = 8474  # Toxiproxy's


class ProxyServer:
    """The proxies by name, and optionally their control API (``start_control``).

    ``leases=False`` makes the server ignore leases, exactly as Toxiproxy does: a client can
    be tried against that behaviour without a Toxiproxy at hand.
    """

    def __init__(self, *, leases: bool = True) -> None:
        self.leases = leases
        self.proxies: dict[str, FaultProxy] = {}
        self.control_address: Address | None = None
        self._runner: web.AppRunner | None = None

    @property
    def control_url(self) -> str:
        if self.control_address is None:
            raise RuntimeError("the control API is not started")
        return f"http://{format_address(self.control_address)}"

    async def create_proxy(
        self, name: str, *, listen: Address, upstream: Address, enabled: bool = True
    ) -> FaultProxy:
        if name in self.proxies:
            raise Refused("proxy already exists", status=409)
        proxy = FaultProxy(name, listen=listen, upstream=upstream, leases=self.leases)
        if enabled:
            await proxy.start()
        self.proxies[name] = proxy
        log.info("proxy %s: %s -> %s", name, format_address(proxy.listen), format_address(upstream))
        return proxy

    def proxy(self, name: str) -> FaultProxy:
        try:
            return self.proxies[name]
        except KeyError:
            raise Refused("proxy not found", status=404) from None

    async def delete_proxy(self, name: str) -> None:
        await self.proxy(name).close()
        del self.proxies[name]

    async def reset(self) -> None:
        """Every proxy enabled, every toxic removed (Toxiproxy's ``POST /reset``)."""
        for proxy in self.proxies.values():
            proxy.remove_toxics()
            await proxy.start()

    async def start_control(self, host: str = "127.0.0.1", port: int = DEFAULT_CONTROL_PORT) -> str:
        """Serve the control API; port 0 picks a free one. Returns its URL."""
        runner = web.AppRunner(control_app(self), access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, host, port, reuse_address=True)
        try:
            await site.start()
        except OSError:
            await runner.cleanup()
            raise
        self._runner = runner
        self.control_address = (host, runner.addresses[0][1])  # port 0 became this one
        return self.control_url

    async def close(self) -> None:
        """Stop the control API, then every proxy, closing their connections."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
        for proxy in self.proxies.values():
            await proxy.close()

    async def __aenter__(self) -> ProxyServer:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()
