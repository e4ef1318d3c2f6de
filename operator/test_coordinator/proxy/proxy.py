"""One fault proxy: a listening socket, its upstream, the toxics on it and the leases they hold."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import Any

from test_coordinator.proxy.addresses import Address, format_address
from test_coordinator.proxy.errors import Refused
from test_coordinator.proxy.forwarding import Connection
from test_coordinator.proxy.toxics import Toxic, parse_toxic, parse_toxic_update

__all__ = ["FaultProxy"]

log = logging.getLogger(__name__)

BACKLOG = 1024
CLOSE_GRACE = 2.0  # seconds a closing connection may take to send what it still buffers


class FaultProxy:
    """Forwards every connection to ``listen`` to ``upstream``, through the toxics set on it.

    A toxic with a lease is removed when the lease lapses, unless an update renewed it;
    with ``leases`` False the proxy ignores leases, as Toxiproxy does.
    """

    def __init__(
        self, name: str, *, listen: Address, upstream: Address, leases: bool = True
    ) -> None:
        self.name = name
        self.listen = listen  # the port the socket got, once listening on port 0
        self.upstream = upstream
        self.enabled = False
        self.leases = leases
        self._toxics: dict[str, Toxic] = {}
        self._lease_timers: dict[str, asyncio.TimerHandle] = {}
        self._connections: set[Connection] = set()
        self._server: asyncio.Server | None = None

    @property
    def toxics(self) -> list[Toxic]:
        return list(self._toxics.values())

    @property
    def connections(self) -> int:
        return len(self._connections)

    async def start(self) -> None:
        if self._server is not None:
            return
        host, port = self.listen
        loop = asyncio.get_running_loop()
        try:
            self._server = await loop.create_server(
                self._accept, host, port, reuse_address=True, backlog=BACKLOG
            )
        except OSError as error:
            reason = error.strerror or str(error)
            raise Refused(
                f"proxy {self.name}: cannot listen on {format_address(self.listen)}: {reason}",
                status=500,
            ) from error
        bound = self._server.sockets[0].getsockname()
        self.listen = (host, bound[1])
        self.enabled = True

    async def stop(self) -> None:
        """Stop listening and close every connection (Toxiproxy's ``enabled: false``).

        A connection whose peer does not read what is left to send is aborted after
        ``CLOSE_GRACE`` seconds, so that stopping never hangs on it.
        """
        self.enabled = False
        server, self._server = self._server, None
        if server is not None:
            server.close()
        connections = list(self._connections)
        for connection in connections:
            connection.close()
        closing = asyncio.gather(*(connection.wait_closed() for connection in connections))
        try:
            await asyncio.wait_for(closing, CLOSE_GRACE)
        except TimeoutError:
            for connection in connections:
                connection.abort()
        if server is not None:
            await server.wait_closed()

    async def update(
        self,
        *,
        listen: Address | None = None,
        upstream: Address | None = None,
        enabled: bool | None = None,
    ) -> None:
        """Change fields; a new address restarts the proxy and drops its connections."""
        moved = (listen is not None and listen != self.listen) or (
            upstream is not None and upstream != self.upstream
        )
        running = self._server is not None
        if moved or enabled is False:
            await self.stop()
        self.listen = listen or self.listen
        self.upstream = upstream or self.upstream
        if enabled or (enabled is None and running):
            await self.start()

    async def close(self) -> None:
        await self.stop()
        self.remove_toxics()

    # -- toxics ----------------------------------------------------------------------------

    def add_toxic(self, document: object) -> Toxic:
        toxic = parse_toxic(document)
        if toxic.name in self._toxics:
            raise Refused("toxic already exists", status=409)
        return self._set(toxic)

    def update_toxic(self, name: str, document: object) -> Toxic:
        """Change a toxic's attributes or toxicity; renew its lease (given length or its own)."""
        return self._set(parse_toxic_update(self.toxic(name), document))

    def toxic(self, name: str) -> Toxic:
        try:
            return self._toxics[name]
        except KeyError:
            raise Refused("toxic not found", status=404) from None

    def remove_toxic(self, name: str, *, holder: str | None = None) -> None:
        """Remove the toxic; given ``holder``, only if it is that holder's or nobody's (a
        runner undoing what a dead one left must not cut short a fault set since)."""
        toxic = self.toxic(name)
        if holder is not None and toxic.holder not in (None, holder):
            raise Refused(f"toxic {name} is held by {toxic.holder}", status=409)
        self._drop(name)
        self._apply()

    def remove_toxics(self) -> None:
        for name in list(self._toxics):
            self._drop(name)
        self._apply()

    def _set(self, toxic: Toxic) -> Toxic:
        if not self.leases and toxic.lease_seconds is not None:
            toxic = replace(toxic, lease_seconds=None)
        self._toxics[toxic.name] = toxic
        self._renew_lease(toxic)
        self._apply()
        return toxic

    def _drop(self, name: str) -> None:
        del self._toxics[name]
        timer = self._lease_timers.pop(name, None)
        if timer is not None:
            timer.cancel()

    def _renew_lease(self, toxic: Toxic) -> None:
        timer = self._lease_timers.pop(toxic.name, None)
        if timer is not None:
            timer.cancel()
        if toxic.lease_seconds is not None:
            loop = asyncio.get_running_loop()
            self._lease_timers[toxic.name] = loop.call_later(
                toxic.lease_seconds, self._lease_lapsed, toxic.name
            )

    def _lease_lapsed(self, name: str) -> None:
        lease = self._toxics[name].lease_seconds
        log.warning(
            "proxy %s: toxic %s removed: its lease (%ss) lapsed without renewal",
            self.name,
            name,
            lease,
        )
        self._lease_timers.pop(name, None)
        self._drop(name)
        self._apply()

    def lease_remaining(self, name: str) -> float | None:
        timer = self._lease_timers.get(name)
        if timer is None:
            return None
        return max(0.0, timer.when() - asyncio.get_running_loop().time())

    # -- connections -----------------------------------------------------------------------

    def _accept(self) -> asyncio.BufferedProtocol:
        connection = Connection(self.upstream, on_open=self._opened, on_closed=self._closed)
        return connection.client

    def _opened(self, connection: Connection) -> None:
        self._connections.add(connection)
        if self._toxics:
            connection.apply(self._toxics.values())

    def _closed(self, connection: Connection) -> None:
        self._connections.discard(connection)

    def _apply(self) -> None:
        toxics = list(self._toxics.values())
        for connection in list(self._connections):
            connection.apply(toxics)

    # -- JSON ------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "listen": format_address(self.listen),
            "upstream": format_address(self.upstream),
            "enabled": self.enabled,
            "toxics": [self.toxic_json(toxic) for toxic in self._toxics.values()],
        }

    def toxic_json(self, toxic: Toxic) -> dict[str, Any]:
        document = toxic.to_json()
        remaining = self.lease_remaining(toxic.name)
        if remaining is not None:
            document["lease_expires_in"] = round(remaining, 3)
        return document
