"""``ProxyControl``: the client of a fault proxy's control API, ours or a real Toxiproxy's.

``hold`` keeps a toxic on a proxy for as long as the caller lives: the toxic carries a lease,
renewed every third of it, so that a holder killed with SIGKILL leaves nothing behind once the
lease lapses. Toxiproxy has no leases; against it the toxic is set all the same, and a warning
says that it stays until removed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import TracebackType
from typing import Any
from urllib.parse import urlencode

import aiohttp

from test_coordinator.proxy.errors import ProxyControlError, ToxicHeld
from test_coordinator.proxy.toxics import DEFAULT_LEASE_SECONDS, Toxic

__all__ = ["DEFAULT_LEASE_SECONDS", "HeldToxic", "ProxyControl", "ProxyInfo", "ServerInfo"]

log = logging.getLogger(__name__)

LEASES = "leases"
_SET_ATTEMPTS = 3  # add, or take over, a toxic that others set and remove meanwhile


@dataclass(frozen=True)
class ServerInfo:
    version: str
    leases: bool  # the proxy removes toxics whose lease lapsed


@dataclass(frozen=True)
class ProxyInfo:
    name: str
    listen: str
    upstream: str
    enabled: bool
    toxics: list[Toxic]

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> ProxyInfo:
        return cls(
            name=str(document.get("name", "")),
            listen=str(document.get("listen", "")),
            upstream=str(document.get("upstream", "")),
            enabled=bool(document.get("enabled", False)),
            toxics=[Toxic.from_json(toxic) for toxic in document.get("toxics") or []],
        )


class ProxyControl:
    """Calls the control API at ``url`` (e.g. ``http://127.0.0.1:8474``); one HTTP session."""

    def __init__(self, url: str, *, timeout: float = 5.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None
        self._server: ServerInfo | None = None

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def __aenter__(self) -> ProxyControl:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    # -- the server ------------------------------------------------------------------------

    async def server_info(self) -> ServerInfo:
        """Its version, and whether it holds leases (Toxiproxy does not); asked once."""
        if self._server is None:
            answer = await self._request("GET", "/version")
            if isinstance(answer, Mapping):  # Toxiproxy before 2.2 answers plain text
                version = str(answer.get("version", ""))
                leases = LEASES in (answer.get("extensions") or [])
            else:
                version, leases = str(answer).strip(), False
            self._server = ServerInfo(version=version, leases=leases)
        return self._server

    async def wait_until_up(self, *, within: float) -> ServerInfo:
        """Poll ``/version`` until the API answers: a proxy process just started."""
        deadline = time.monotonic() + within
        while True:
            try:
                return await self.server_info()
            except ProxyControlError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.05)

    async def reset(self) -> None:
        await self._request("POST", "/reset")

    # -- proxies ---------------------------------------------------------------------------

    async def proxies(self) -> dict[str, ProxyInfo]:
        answer = await self._request("GET", "/proxies")
        return {name: ProxyInfo.from_json(proxy) for name, proxy in (answer or {}).items()}

    async def proxy(self, name: str) -> ProxyInfo:
        return ProxyInfo.from_json(await self._request("GET", f"/proxies/{name}"))

    async def create_proxy(
        self, name: str, *, listen: str, upstream: str, enabled: bool = True
    ) -> ProxyInfo:
        body = {"name": name, "listen": listen, "upstream": upstream, "enabled": enabled}
        return ProxyInfo.from_json(await self._request("POST", "/proxies", body))

    async def update_proxy(
        self,
        name: str,
        *,
        listen: str | None = None,
        upstream: str | None = None,
        enabled: bool | None = None,
    ) -> ProxyInfo:
        fields = {"listen": listen, "upstream": upstream, "enabled": enabled}
        body = {key: value for key, value in fields.items() if value is not None}
        return ProxyInfo.from_json(await self._request("POST", f"/proxies/{name}", body))

    async def delete_proxy(self, name: str) -> None:
        await self._request("DELETE", f"/proxies/{name}")

    # -- toxics ----------------------------------------------------------------------------

    async def toxics(self, proxy: str) -> list[Toxic]:
        answer = await self._request("GET", f"/proxies/{proxy}/toxics")
        return [Toxic.from_json(toxic) for toxic in answer or []]

    async def toxic(self, proxy: str, name: str) -> Toxic:
        return Toxic.from_json(await self._request("GET", f"/proxies/{proxy}/toxics/{name}"))

    async def add_toxic(self, proxy: str, toxic: Toxic) -> Toxic:
        answer = await self._request("POST", f"/proxies/{proxy}/toxics", toxic.to_json())
        return Toxic.from_json(answer)

    async def update_toxic(
        self,
        proxy: str,
        name: str,
        *,
        attributes: Mapping[str, int] | None = None,
        toxicity: float | None = None,
        lease_seconds: float | None = None,
        holder: str | None = None,
    ) -> Toxic:
        """Change what is given; on a proxy with leases, any update renews the toxic's lease."""
        fields = {
            "attributes": attributes,
            "toxicity": toxicity,
            "lease_seconds": lease_seconds,
            "holder": holder,
        }
        body = {key: value for key, value in fields.items() if value is not None}
        answer = await self._request("POST", f"/proxies/{proxy}/toxics/{name}", body)
        return Toxic.from_json(answer)

    async def remove_toxic(
        self, proxy: str, name: str, *, missing_ok: bool = False, holder: str | None = None
    ) -> None:
        """Remove the toxic; given ``holder``, only if it is that holder's or nobody's: one
        another holder set is refused (409). Toxiproxy keeps no holders and removes it."""
        query = f"?{urlencode({'holder': holder})}" if holder is not None else ""
        try:
            await self._request("DELETE", f"/proxies/{proxy}/toxics/{name}{query}")
        except ProxyControlError as error:
            if not (missing_ok and error.status == 404):
                raise

    def hold(
        self,
        proxy: str,
        toxic: Toxic,
        *,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        holder: str | None = None,
    ) -> HeldToxic:
        """The toxic, set on entering and renewed until exit (or ``start`` and ``stop``)."""
        return HeldToxic(self, proxy, toxic, lease_seconds=lease_seconds, holder=holder)

    # -- HTTP ------------------------------------------------------------------------------

    async def _request(self, method: str, path: str, body: object = None) -> Any:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        try:
            async with self._session.request(method, self.url + path, json=body) as response:
                text = await response.text()
                status = response.status
        except aiohttp.ClientError as error:
            raise ProxyControlError(self.url, f"{method} {path}: {error}") from None
        except TimeoutError:
            message = f"{method} {path}: no answer within {self.timeout}s"
            raise ProxyControlError(self.url, message) from None
        if status >= 400:
            raise ProxyControlError(self.url, _error_message(text), status=status)
        if not text.strip():
            return None
        try:
            return json.loads(text)
        except ValueError:
            return text


def _error_message(text: str) -> str:
    try:
        document = json.loads(text)
    except ValueError:
        return text.strip() or "no message"
    if isinstance(document, Mapping) and "error" in document:
        return str(document["error"])
    return text.strip()


class HeldToxic:
    """A toxic kept on a proxy: set by ``start``, its lease renewed, removed by ``stop``.

    A renewal the proxy answers 404 to (the lease lapsed while this process stalled, or the
    proxy restarted) sets the toxic again. ``leased`` says, once started, whether the proxy
    holds the lease; when it does not (Toxiproxy), nothing is renewed and a warning says so.
    """

    def __init__(
        self,
        control: ProxyControl,
        proxy: str,
        toxic: Toxic,
        *,
        lease_seconds: float,
        holder: str | None = None,
    ) -> None:
        if lease_seconds <= 0:
            raise ValueError(f"lease_seconds must be above 0, got {lease_seconds}")
        self.control = control
        self.proxy = proxy
        self.toxic = replace(toxic, lease_seconds=lease_seconds, holder=holder)
        self.leased: bool | None = None
        self.renewals = 0
        self._renewing: asyncio.Task[None] | None = None

    async def start(self) -> Toxic:
        server = await self.control.server_info()
        toxic = self.toxic if server.leases else replace(self.toxic, lease_seconds=None)
        answered = await self._set(toxic)
        self.leased = answered.lease_seconds is not None
        if self.leased:
            self._renewing = asyncio.get_running_loop().create_task(self._renew())
        else:
            log.warning(
                "the fault proxy at %s (version %s) has no leases, as Toxiproxy: toxic %s on "
                "proxy %s stays until removed, even if this process dies",
                self.control.url,
                server.version,
                self.toxic.name,
                self.proxy,
            )
        return answered

    async def _set(self, toxic: Toxic) -> Toxic:
        """Add the toxic, or take over the one of its name. One removed between the two (its
        holder reverted it, or its lease lapsed) is added again."""
        attempt = 1
        while True:
            try:
                return await self.control.add_toxic(self.proxy, toxic)
            except ProxyControlError as error:
                if error.status != 409:
                    raise
            try:
                return await self._take_over(toxic)
            except ProxyControlError as error:
                if error.status != 404 or attempt == _SET_ATTEMPTS:
                    raise
            attempt += 1

    async def _take_over(self, toxic: Toxic) -> Toxic:
        """A toxic of this name is there already: make it this one if its holder is this one
        (a runner that died and came back) or unknown (set by hand, or by Toxiproxy, which
        keeps no holder); another holder's waits for it to go (its revert, or its lease)."""
        existing = await self.control.toxic(self.proxy, toxic.name)
        if existing.holder is not None and existing.holder != toxic.holder:
            raise ToxicHeld(self.control.url, self.proxy, toxic.name, holder=existing.holder)
        if (existing.type, existing.stream) != (toxic.type, toxic.stream):
            raise ProxyControlError(
                self.control.url,
                f"proxy {self.proxy} has a toxic {toxic.name} already, of type "
                f"{existing.type} on the {existing.stream} stream, not {toxic.type} on the "
                f"{toxic.stream} stream",
                status=409,
            )
        log.info("toxic %s on proxy %s exists already: holding it", toxic.name, self.proxy)
        return await self.control.update_toxic(
            self.proxy,
            toxic.name,
            attributes=toxic.attributes,
            toxicity=toxic.toxicity,
            lease_seconds=toxic.lease_seconds,
            holder=toxic.holder,
        )

    async def stop(self) -> None:
        """Stop renewing and remove the toxic (gone already is fine)."""
        renewing, self._renewing = self._renewing, None
        if renewing is not None:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing
        try:
            await self.control.remove_toxic(
                self.proxy, self.toxic.name, missing_ok=True, holder=self.toxic.holder
            )
        except ProxyControlError as error:
            if error.status != 409:
                raise
            # Its lease lapsed (this process stalled) and another holder has set it since.
            log.warning("toxic %s is not this holder's any more: %s", self.toxic.name, error)

    async def __aenter__(self) -> HeldToxic:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _renew(self) -> None:
        lease = self.toxic.lease_seconds
        assert lease is not None
        while True:
            await asyncio.sleep(lease / 3)
            try:
                await self.control.update_toxic(self.proxy, self.toxic.name, lease_seconds=lease)
                self.renewals += 1
            except ProxyControlError as error:
                if error.status == 404:
                    await self._set_again(error)
                else:
                    log.warning(
                        "cannot renew the lease of toxic %s: %s (it lapses in at most %ss)",
                        self.toxic.name,
                        error,
                        lease,
                    )

    async def _set_again(self, error: ProxyControlError) -> None:
        log.warning("toxic %s is gone (%s): setting it again", self.toxic.name, error.message)
        try:
            await self.control.add_toxic(self.proxy, self.toxic)
        except ProxyControlError as again:
            log.warning("cannot set toxic %s again: %s", self.toxic.name, again)
