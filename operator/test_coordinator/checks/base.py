"""What every check kind shares: the observation it returns and how it finds its endpoints."""

from __future__ import annotations

import asyncio
import errno
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from test_coordinator.scenario.model import Addressed
from test_coordinator.scenario.status import utcnow

__all__ = [
    "MAX_OBSERVED",
    "Baseline",
    "EndpointResolver",
    "NoEndpoint",
    "Observation",
    "ProbeContext",
    "describe_error",
    "failed",
    "format_elapsed",
    "observe_endpoints",
    "resolve",
    "short",
    "split_host_port",
    "unavailable",
]

MAX_OBSERVED = 120


@dataclass(frozen=True)
class Observation:
    passed: bool
    observed: str  # what was seen, short enough for a table cell: "SERVING", "HTTP 503 in 12ms"
    at: datetime = field(default_factory=utcnow)
    # The check could not look (its audit trail was unreachable, the coordinator's own reads
    # failed): the failure says nothing about the system, and a run that fails only on such
    # checks is Inconclusive.
    inconclusive: bool = False


class EndpointResolver(Protocol):
    """The platform's answer to "where is target T's port P?" as ``host:port`` strings.

    ``target`` None means the workload the probe belongs to (a stack service's readiness probe).
    Raises ``LookupError`` when nothing is there to look at (no workload, unknown port name).
    """

    async def endpoints(self, target: str | None, port: int | str) -> list[str]: ...

    async def workload_ready(self, kind: str, name: str) -> tuple[bool, str]:
        """Whether a workload (a Deployment, a stack service) is fully up, and what was seen."""
        ...


@dataclass(frozen=True)
class Baseline:
    """What a check saw as the run began, so that it can judge what came after (``noLoss``)."""

    position: str | None  # where the record stood (a stream entry id); None: it could not look
    problem: str = ""  # why it could not look


@dataclass(frozen=True)
class ProbeContext:
    resolver: EndpointResolver
    # Wall-clock time (unix seconds) of the step's fault: a `newInstance` registration is newer.
    since: float | None = None
    baseline: Baseline | None = None


class NoEndpoint(LookupError):
    """Nothing to look at: the resolver found no workload or port, or gave no usable endpoint.

    Distinct from a bare ``LookupError`` so that a stray ``KeyError`` in this program is not
    mistaken for a missing workload and reported as a failed observation.
    """


def short(text: str, limit: int = MAX_OBSERVED) -> str:
    """One line of at most ``limit`` characters: observations end up in table cells."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def failed(observed: str) -> Observation:
    return Observation(passed=False, observed=short(observed))


def unavailable(observed: str) -> Observation:
    """A failure to look at all (an audit trail that cannot be read, the platform's API not
    answering the coordinator), not a finding."""
    return Observation(passed=False, observed=short(observed), inconclusive=True)


def format_elapsed(seconds: float) -> str:
    """``12ms`` below a second, ``1.23s`` above: latencies and ages read at a glance."""
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    return f"{seconds:.2f}s"


_ERRNO_TEXT = {
    errno.ECONNREFUSED: "connection refused",
    errno.ECONNRESET: "connection reset",
    errno.EHOSTUNREACH: "host unreachable",
    errno.ENETUNREACH: "network unreachable",
    errno.ETIMEDOUT: "connect timed out",
}


def describe_error(exc: BaseException) -> str:
    """A short reason for a failure of the system under test (not of this program)."""
    if isinstance(exc, socket.gaierror):
        return f"DNS lookup failed: {exc.strerror or exc}"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, OSError) and exc.errno in _ERRNO_TEXT:
        return _ERRNO_TEXT[exc.errno]
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    # Libraries wrap the OSError that says what happened; its text is shorter than theirs.
    cause = exc.__cause__ or exc.__context__
    if isinstance(cause, OSError):
        return describe_error(cause)
    return short(str(exc) or type(exc).__name__)


def split_host_port(endpoint: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:80`` for IPv6) as a host and a port number."""
    host, _, port = endpoint.rpartition(":")
    if not host or not port.isdigit():
        raise NoEndpoint(f"not a host:port endpoint: {endpoint!r}")
    return host.strip("[]"), int(port)


async def resolve(
    spec: Addressed, ctx: ProbeContext, default_port: int | str | None = None
) -> list[str]:
    """Where ``spec`` points: its address, or the resolver's endpoints for its target's port.

    ``default_port`` names the port a kind usually listens on (``grpc``, ``http``), so that a
    probe on a workload's own port need not spell it out.
    """
    if spec.address is not None:
        return [spec.address]
    port = spec.port if spec.port is not None else default_port
    if port is None:
        raise NoEndpoint("no address and no port given")
    try:
        endpoints = await ctx.resolver.endpoints(spec.target, port)
    except LookupError as exc:
        # KeyError's str() is the quoted key; the message itself reads better.
        raise NoEndpoint(str(exc.args[0]) if exc.args else type(exc).__name__) from exc
    if not endpoints:
        what = f"target {spec.target}" if spec.target is not None else "this workload"
        raise NoEndpoint(f"no endpoints for {what} port {port}")
    return endpoints


async def _guarded(
    observe_one: Callable[[str], Awaitable[Observation]], endpoint: str
) -> Observation:
    # Each endpoint is judged on its own: one refusing connections must not hide the others.
    try:
        return await observe_one(endpoint)
    except NoEndpoint as exc:
        return failed(str(exc))
    except OSError as exc:
        return failed(describe_error(exc))


async def observe_endpoints(
    endpoints: list[str], observe_one: Callable[[str], Awaitable[Observation]]
) -> Observation:
    """Passes only when every endpoint passes; otherwise tells the first that failed."""
    results = await asyncio.gather(*(_guarded(observe_one, e) for e in endpoints))
    if len(results) == 1:
        return results[0]
    for endpoint, result in zip(endpoints, results, strict=True):
        if not result.passed:
            return failed(f"{endpoint}: {result.observed}")
    return Observation(
        passed=True, observed=short(f"{results[0].observed} on all {len(results)} endpoints")
    )
