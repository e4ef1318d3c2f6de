"""Network faults as toxics on a fault proxy, held with a lease for as long as this process lives.

Every platform applies ``latency``, ``bandwidth``, ``partition`` and ``reset`` the same way: it
finds the proxy in front of the target's port (its control API's URL and the proxy's name
there) and hands the fault to ``NetworkFaults``, which sets the toxics with a lease and renews
it until the fault is reverted. A runner killed with SIGKILL renews nothing: its toxics go when
their lease lapses.

A fault's toxics have fixed names (``chaos-latency_upstream``…), so that a revert needs nothing
but the fault and the proxy: a later process undoes what a dead one set. Each toxic names its
holder (the run's scenario): a run that finds one of its own still there (its lease not yet
lapsed) takes it over; one held by another scenario is waited for (``FaultHeld``), never cut
short. Undoing by name removes a toxic only where the holder it is undone for (this process, or
the dead runner its journal names) or nobody holds it: one set since by another run stays.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from test_coordinator.errors import PlatformError
from test_coordinator.platforms.base import FaultHeld
from test_coordinator.proxy.errors import ProxyControlError, ToxicHeld
from test_coordinator.proxy.toxics import DEFAULT_LEASE_SECONDS, STREAMS, Stream, Toxic
from test_coordinator.scenario.durations import format_duration
from test_coordinator.scenario.model import (
    NETWORK_FAULTS,
    BandwidthFault,
    Direction,
    FaultSpec,
    LatencyFault,
    NetworkFault,
    PartitionFault,
    ResetFault,
)
from test_coordinator.scenario.rates import format_rate

if TYPE_CHECKING:  # the client (aiohttp) loads when a network fault is first applied
    from test_coordinator.proxy.client import HeldToxic, ProxyControl

__all__ = [
    "CONTROL_PORT",
    "DEFAULT_LEASE_SECONDS",
    "NETWORK_FAULTS",
    "PROXY_FOR_LABEL",
    "TOXIC_PREFIX",
    "NetworkFaults",
    "ProxyAt",
    "describe",
    "toxics_for",
]

log = logging.getLogger(__name__)

TOXIC_PREFIX = "chaos-"
PROXY_FOR_LABEL = "chaos.tse.dev/proxy-for"
"""On a proxy (container or Service): the service whose ports it fronts."""
CONTROL_PORT = "control"
"""The proxy's port (label or Service port) that serves its control API."""


@dataclass(frozen=True)
class ProxyAt:
    """A proxy in front of a port: the control API that sets its toxics, and its name there."""

    control_url: str
    name: str

    def __str__(self) -> str:
        return f"proxy {self.name} at {self.control_url}"


def _streams(direction: Direction) -> tuple[Stream, ...]:
    return STREAMS if direction == "both" else (direction,)


def toxics_for(fault: FaultSpec) -> list[Toxic]:
    """The toxics that make ``fault``, named ``chaos-ACTION_STREAM``."""
    params = _network(fault)
    toxicity = params.percent / 100

    def name(stream: Stream) -> str:
        return f"{TOXIC_PREFIX}{fault.action}_{stream}"

    match params:
        case LatencyFault(delay=delay, jitter=jitter, direction=direction):
            return [
                Toxic.latency(
                    round(delay * 1000),
                    round(jitter * 1000),
                    name=name(stream),
                    stream=stream,
                    toxicity=toxicity,
                )
                for stream in _streams(direction)
            ]
        case BandwidthFault(rate=rate, direction=direction):
            kilobytes = max(1, round(rate / 1000))  # the proxy paces in kB/s, as Toxiproxy
            return [
                Toxic.bandwidth(kilobytes, name=name(stream), stream=stream, toxicity=toxicity)
                for stream in _streams(direction)
            ]
        case PartitionFault(direction=direction):
            # timeout 0: nothing passes and nothing is closed, until the toxic goes.
            return [
                Toxic.timeout(0, name=name(stream), stream=stream, toxicity=toxicity)
                for stream in _streams(direction)
            ]
        case ResetFault():
            # One toxic resets the whole connection, whichever stream it sits on.
            return [Toxic.reset_peer(0, name=name("downstream"), toxicity=toxicity)]
    raise PlatformError(f"{fault.action} is not a network fault")


def describe(fault: FaultSpec) -> str:
    """What the fault does, as the report says it: ``latency 500ms both ways``."""
    params = _network(fault)
    direction = getattr(params, "direction", "both")
    ways = "both ways" if direction == "both" else direction
    share = "" if params.percent == 100 else f", {params.percent}% of connections"
    match params:
        case LatencyFault(delay=delay, jitter=jitter):
            spread = f" ±{format_duration(jitter)}" if jitter else ""
            what = f"latency {format_duration(delay)}{spread} {ways}"
        case BandwidthFault(rate=rate):
            what = f"bandwidth {format_rate(rate)} {ways}"
        case PartitionFault():
            what = f"partition {ways}"
        case _:
            what = "reset of new and open connections"
    return what + share


def _network(fault: FaultSpec) -> NetworkFault:
    params = fault.network
    if params is None:
        raise PlatformError(f"{fault.action} is not a network fault")
    return params


_Key = tuple[str, str, str]  # control URL, proxy, action


class NetworkFaults:
    """The network faults this process holds, on any number of proxies.

    ``apply`` sets a fault's toxics and keeps renewing their lease; ``revert`` removes them,
    also when another process set them (it had died: the names are fixed). A control API's
    client lives while something is held through it; ``close`` removes what is still held.
    """

    def __init__(
        self, *, lease_seconds: float = DEFAULT_LEASE_SECONDS, holder: str | None = None
    ) -> None:
        if lease_seconds <= 0:
            raise ValueError(f"lease_seconds must be above 0, got {lease_seconds}")
        self.lease_seconds = lease_seconds
        self.holder = holder or f"pid {os.getpid()} on {socket.gethostname()}"
        self._controls: dict[str, ProxyControl] = {}
        self._held: dict[_Key, list[HeldToxic]] = {}

    def control(self, url: str) -> ProxyControl:
        """The client of the control API at ``url``: one per URL, kept while it holds."""
        control = self._controls.get(url)
        if control is None:
            from test_coordinator.proxy.client import ProxyControl

            control = self._controls[url] = ProxyControl(url)
        return control

    async def apply(self, fault: FaultSpec, proxy: ProxyAt) -> str:
        """Set the fault's toxics on ``proxy``, their lease renewed until ``revert``."""
        key = (proxy.control_url, proxy.name, fault.action)
        await self._release(self._held.pop(key, []))  # applied twice: the newer one holds
        control = self.control(proxy.control_url)
        held: list[HeldToxic] = []
        try:
            for toxic in toxics_for(fault):
                holding = control.hold(
                    proxy.name, toxic, lease_seconds=self.lease_seconds, holder=self.holder
                )
                held.append(holding)
                await holding.start()
        except ToxicHeld as taken:
            await self._release(held[:-1])  # the last one is the other holder's
            await self._close_if_idle(proxy.control_url)
            raise FaultHeld(
                f"{describe(fault)} on {proxy}: its toxic is held by {taken.holder} "
                "(until it is reverted, or its lease lapses)"
            ) from None
        except BaseException:
            await self._release(held)
            await self._close_if_idle(proxy.control_url)
            raise
        self._held[key] = held
        leased = all(holding.leased for holding in held)
        lease = (
            f"lease {format_duration(self.lease_seconds)}, renewed while this run lives"
            if leased
            else "no lease: this proxy keeps toxics until removed"
        )
        return f"{describe(fault)} on {proxy} ({lease})"

    async def revert(self, fault: FaultSpec, proxy: ProxyAt, *, holder: str | None = None) -> str:
        """Remove the fault's toxics from ``proxy``; those already gone are fine. What this
        process does not hold is removed by name where ``holder`` (a dead runner's, from its
        journal; by default this process's own) or nobody holds it; another holder's stays."""
        key = (proxy.control_url, proxy.name, fault.action)
        held = self._held.pop(key, None) if holder in (None, self.holder) else None
        try:
            if held is not None:
                failed: list[ProxyControlError] = []
                for holding in held:  # each stops renewing, whether or not its removal fails
                    try:
                        await holding.stop()
                    except ProxyControlError as error:
                        failed.append(error)
                if failed:
                    raise failed[0]
                return f"{fault.action} removed from {proxy}"
            control = self.control(proxy.control_url)
            owner = holder or self.holder
            left: list[str] = []
            for toxic in toxics_for(fault):
                try:
                    await control.remove_toxic(
                        proxy.name, toxic.name, missing_ok=True, holder=owner
                    )
                except ProxyControlError as error:
                    if error.status != 409:
                        raise
                    left.append(error.message)
            if left:
                return f"{fault.action} on {proxy} left as is: {'; '.join(left)}, not by {owner}"
            return f"{fault.action} removed from {proxy} (where another process had set it)"
        finally:
            await self._close_if_idle(proxy.control_url)

    async def proxy_names(self, control_url: str) -> list[str]:
        """The proxies the control API at ``control_url`` serves."""
        try:
            return sorted(await self.control(control_url).proxies())
        finally:
            await self._close_if_idle(control_url)

    async def _close_if_idle(self, url: str) -> None:
        """Close the client of a control API that holds nothing any more: a platform whose
        owner never calls ``close`` (one per run) leaves no HTTP session behind."""
        if any(key[0] == url for key in self._held):
            return
        control = self._controls.pop(url, None)
        if control is not None:
            await control.close()

    async def close(self) -> None:
        """Remove whatever is still held (a revert that failed leaves it to its lease)."""
        held, self._held = self._held, {}
        for holdings in held.values():
            await self._release(holdings)
        controls, self._controls = self._controls, {}
        for control in controls.values():
            await control.close()

    @staticmethod
    async def _release(held: Iterable[HeldToxic]) -> None:
        for holding in held:
            try:
                await holding.stop()
            except ProxyControlError as error:
                log.warning(
                    "cannot remove toxic %s from proxy %s (%s): it goes when its lease lapses",
                    holding.toxic.name,
                    holding.proxy,
                    error,
                )
