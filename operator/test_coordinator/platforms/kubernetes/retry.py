"""Every request of the operator to the API server, retried where its failure passes: one
transport under the API client, so that no call site retries on its own and none forgets to.

A busy API server answers 429 with ``Retry-After`` (API Priority and Fairness), one being
restarted or behind a load balancer 503 or 504, an overloaded etcd 500; connections drop and
time out. Each of these is retried with jittered exponential backoff (never sooner than a
``Retry-After`` asks), within the run's deadline (``platforms/deadline.py``) and a budget per
call, after which the last answer goes to the caller as it came.

Rules per verb: reads (GET: get, list, the start of a watch) are safe to repeat. Merge patches
set absolute values, so repeating one that landed changes nothing; one carrying a
resourceVersion meets 409 Conflict when its first try landed, and its caller reads afresh (the
held-by lock). A DELETE repeated after it landed meets 404, which every caller takes as "already
gone". A POST (create) repeated after a 500 or a timeout that hid its success meets 409
AlreadyExists, which every caller takes as done (Events, the isolation's NetworkPolicy).
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx2

from test_coordinator.platforms.deadline import remaining

__all__ = ["RETRY_STATUSES", "RetryPolicy", "RetryingTransport", "transient_status"]

log = logging.getLogger(__name__)

_PASSING = frozenset({429, 500, 502, 503, 504})
RETRY_STATUSES: Mapping[str, frozenset[int]] = {
    "GET": _PASSING,
    "PATCH": _PASSING,
    "PUT": _PASSING,
    "DELETE": _PASSING,
    "POST": _PASSING,
}
"""The answers worth asking again, by method (see the module's docstring for why each is safe)."""
_ASKS_TO_WAIT = frozenset({429, 503})  # answers whose Retry-After is honoured
_TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    httpx2.TimeoutException,  # connect, read, write, or waiting for a pooled connection
    httpx2.NetworkError,  # refused, reset, dropped
    httpx2.RemoteProtocolError,  # the server closed the connection mid-answer
)

OnRetry = Callable[[str, str], None]
"""Told of every retry: the method and why ("429", "ReadTimeout")."""


def transient_status(code: int) -> bool:
    """Whether an API server's answer ``code`` says "not now" rather than "no"."""
    return code in _PASSING


@dataclass(frozen=True)
class RetryPolicy:
    first_delay: float = 0.1
    """The first backoff's ceiling; each retry doubles it, up to ``max_delay``."""
    max_delay: float = 5.0
    budget: float = 30.0
    """How long one call keeps retrying at most."""
    minimum: float = 5.0
    """How long a call keeps retrying at least, even at its run's deadline (the undo of a
    fault after a timeout is made past it)."""

    def backoff(self, attempt: int, retry_after: float | None = None) -> float:
        """Full jitter (a random delay up to the exponential ceiling), so that the runs a
        failure hit together do not come back together; never less than ``retry_after``."""
        ceiling = min(self.max_delay, self.first_delay * 2**attempt)
        jittered = random.uniform(0, ceiling)
        return jittered if retry_after is None else retry_after + jittered / 4

    def window(self) -> float:
        """How long the call about to be made may keep retrying."""
        left = remaining()
        if left is None:
            return self.budget
        return min(self.budget, max(left, self.minimum))


class RetryingTransport(httpx2.AsyncBaseTransport):
    """Wraps the transport that talks to the API server (TLS and connection pool as the
    kubeconfig says); the client above it adds authentication to each request."""

    def __init__(
        self,
        inner: httpx2.AsyncBaseTransport,
        policy: RetryPolicy | None = None,
        *,
        on_retry: OnRetry | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.inner = inner
        self.policy = policy or RetryPolicy()
        self.on_retry = on_retry
        self.sleep = sleep
        self.clock = clock

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        retried_on = RETRY_STATUSES.get(request.method, frozenset())
        deadline = self.clock() + self.policy.window()
        attempt = 0
        while True:
            try:
                response = await self.inner.handle_async_request(request)
            except _TRANSIENT_ERRORS as error:
                delay = self.policy.backoff(attempt)
                if self.clock() + delay > deadline:
                    raise
                await self._wait(request, type(error).__name__, delay)
                attempt += 1
                continue
            if response.status_code not in retried_on:
                return response
            asked = _retry_after(response) if response.status_code in _ASKS_TO_WAIT else None
            delay = self.policy.backoff(attempt, asked)
            if self.clock() + delay > deadline:
                return response  # the caller gets the last answer, and its Status
            await response.aclose()
            await self._wait(request, str(response.status_code), delay)
            attempt += 1

    async def _wait(self, request: httpx2.Request, reason: str, delay: float) -> None:
        log.debug("%s %s: %s, retrying in %.2fs", request.method, request.url.path, reason, delay)
        if self.on_retry is not None:
            self.on_retry(request.method, reason)
        await self.sleep(delay)

    async def aclose(self) -> None:
        await self.inner.aclose()


def _retry_after(response: httpx2.Response) -> float | None:
    """``Retry-After`` in seconds: a number, or an HTTP date."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
