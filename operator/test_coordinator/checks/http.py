"""An HTTP request answers with an expected status, body and latency."""

from __future__ import annotations

import time

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
from test_coordinator.checks.http_request import HttpFailure, request
from test_coordinator.scenario.durations import format_duration
from test_coordinator.scenario.model import HttpProbe

__all__ = ["observe_http"]


async def observe_http(spec: HttpProbe, ctx: ProbeContext) -> Observation:
    if spec.url is not None:
        urls = [spec.url]
    else:
        path = spec.path if spec.path.startswith("/") else f"/{spec.path}"
        urls = [f"http://{endpoint}{path}" for endpoint in await resolve(spec, ctx, "http")]

    async def one(url: str) -> Observation:
        return await _request(spec, url)

    return await observe_endpoints(urls, one)


async def _request(spec: HttpProbe, url: str) -> Observation:
    started = time.perf_counter()
    try:
        answer = await request(
            spec.method,
            url,
            body=spec.body,
            content_type=spec.content_type,
            read_body=spec.body_contains is not None,
        )
    except HttpFailure as failure:
        return failed(str(failure))
    except OSError as error:  # refused, reset, unreachable, a failed DNS lookup or TLS
        return failed(describe_error(error))
    latency = time.perf_counter() - started
    return _judge(spec, answer.status, answer.body, latency)


def _judge(spec: HttpProbe, status: int, body: str, latency: float) -> Observation:
    seen = f"HTTP {status} in {format_elapsed(latency)}"
    if status not in spec.expect_status:
        return failed(seen)
    if spec.body_contains is not None and spec.body_contains not in body:
        return failed(f"{seen}, body lacks {spec.body_contains[:40]!r}")
    if spec.max_latency is not None and latency > spec.max_latency:
        return failed(f"{seen} (max {format_duration(spec.max_latency)})")
    return Observation(passed=True, observed=short(seen))
