"""A service's registration in Redis exists, its heartbeat is fresh, and (if asked) it is new."""

from __future__ import annotations

import json
import math
import time
from datetime import UTC, datetime

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from test_coordinator.checks.base import (
    Observation,
    ProbeContext,
    describe_error,
    failed,
    observe_endpoints,
    resolve,
    short,
    split_host_port,
)
from test_coordinator.scenario.durations import format_duration
from test_coordinator.scenario.model import RedisRegistryProbe

__all__ = ["observe_redis_registry"]


async def observe_redis_registry(spec: RedisRegistryProbe, ctx: ProbeContext) -> Observation:
    endpoints = await resolve(spec.redis, ctx, default_port="redis")
    key = spec.key.format(service=spec.service)

    async def read(endpoint: str) -> Observation:
        try:
            registration = await _read_registration(endpoint, key)
        except RedisError as exc:
            return failed(describe_error(exc))
        if registration is None:
            return failed(f"no registration at {key}")
        return _judge(spec, registration, ctx.since, time.time())

    return await observe_endpoints(endpoints, read)


async def _read_registration(endpoint: str, key: str) -> dict[str, str] | None:
    """The registration as field -> text, from a hash or a string holding a JSON object."""
    host, port = split_host_port(endpoint)
    # No retries: the observation is the retry loop, and a Redis that refuses us is the finding.
    client = aioredis.Redis(
        host=host, port=port, decode_responses=True, retry=Retry(NoBackoff(), 0)
    )
    async with client:
        kind = _text(await client.type(key))
        if kind == "none":
            return None
        if kind == "hash":
            fields = await client.hgetall(key)
            return {_text(name): _text(value) for name, value in fields.items()}
        if kind == "string":
            return _parse_json(_text(await client.get(key) or ""))
    raise _NotARegistration(f"{key} is a {kind}, not a hash")


def _text(value: bytes | str) -> str:
    # decode_responses makes these str already; the client's types cannot say so.
    return value.decode(errors="replace") if isinstance(value, bytes) else value


class _NotARegistration(RedisError):
    """The key holds something no registry writes: reported like any Redis answer we reject."""


def _parse_json(text: str) -> dict[str, str]:
    try:
        value = json.loads(text)
    except ValueError:
        raise _NotARegistration("registration is neither a hash nor a JSON object") from None
    if not isinstance(value, dict):
        raise _NotARegistration("registration JSON is not an object")
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in value.items()}


def _judge(
    spec: RedisRegistryProbe, registration: dict[str, str], since: float | None, now: float
) -> Observation:
    pid = registration.get("pid")
    about = f"pid {pid}: " if pid else ""
    heartbeat = _timestamp(registration.get(spec.heartbeat_field))
    if heartbeat is None:
        return failed(f"{about}no valid {spec.heartbeat_field} field")
    # A heartbeat slightly ahead of our clock is skew, not a registration from the future.
    age = max(0.0, now - heartbeat)
    if age > spec.max_age:
        return failed(f"{about}heartbeat {age:.1f}s old (max {format_duration(spec.max_age)})")
    if spec.new_instance and since is not None:
        registered = _timestamp(registration.get(spec.registered_field))
        if registered is None:
            return failed(f"{about}no valid {spec.registered_field} field")
        if registered <= since:
            return failed("registration from before the fault" + (f" (pid {pid})" if pid else ""))
    seen = f"registered pid {pid}" if pid else "registered"
    return Observation(passed=True, observed=short(f"{seen}, heartbeat {age:.1f}s old"))


def _timestamp(value: str | None) -> float | None:
    """Unix seconds; ISO 8601 is accepted too, since some services write their clocks that way."""
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        # "nan" parses, and would compare as neither stale nor fresh.
        return seconds if math.isfinite(seconds) else None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    # A timestamp without a zone is taken as UTC, the only zone a registry should write.
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()
