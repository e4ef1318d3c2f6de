"""An HTTP request answers with an expected status, body and latency."""

from __future__ import annotations

import time

import aiohttp

from test_coordinator.checks.base import (
    Observation,
    ProbeContext,
    describe_error,
    failed,
    format_elapsed,
    observe_endpoints,
    resolve,
    short,
)
from test_coordinator.scenario.durations import format_duration
from test_coordinator.scenario.model import HttpProbe

__all__ = ["observe_http"]


async def observe_http(spec: HttpProbe, ctx: ProbeContext) -> Observation:
    if spec.url is not None:
        urls = [spec.url]
    else:
        path = spec.path if spec.path.startswith("/") else f"/{spec.path}"
        urls = [f"http://{endpoint}{path}" for endpoint in await resolve(spec, ctx, "http")]

    async def request(url: str) -> Observation:
        return await _request(spec, url)

    return await observe_endpoints(urls, request)


async def _request(spec: HttpProbe, url: str) -> Observation:
    # A session per observation: pooled keep-alive connections would outlive a killed server
    # and turn a restart into a spurious "server disconnected".
    async with aiohttp.ClientSession() as session:
        started = time.perf_counter()
        try:
            headers = {} if spec.body is None else {"Content-Type": spec.content_type}
            async with session.request(
                spec.method, url, data=spec.body, headers=headers, allow_redirects=False
            ) as response:
                body = await response.text(errors="replace") if spec.body_contains else ""
                status = response.status
        except aiohttp.ClientError as exc:
            return failed(_describe_client_error(exc))
        latency = time.perf_counter() - started
    return _judge(spec, status, body, latency)


def _judge(spec: HttpProbe, status: int, body: str, latency: float) -> Observation:
    seen = f"HTTP {status} in {format_elapsed(latency)}"
    if status not in spec.expect_status:
        return failed(seen)
    if spec.body_contains is not None and spec.body_contains not in body:
        return failed(f"{seen}, body lacks {spec.body_contains[:40]!r}")
    if spec.max_latency is not None and latency > spec.max_latency:
        return failed(f"{seen} (max {format_duration(spec.max_latency)})")
    return Observation(passed=True, observed=short(seen))


def _describe_client_error(exc: aiohttp.ClientError) -> str:
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "server disconnected"
    if isinstance(exc, aiohttp.ClientConnectorError):
        # Refused, unreachable or a failed DNS lookup: the OSError says which.
        return describe_error(exc.os_error)
    if isinstance(exc, aiohttp.InvalidURL):
        return f"invalid URL {str(exc.url)[:80]!r}"
    return describe_error(exc)
