"""The audit trail holds an event with the given fields, within a window around the fault.

Times in what it reports are relative to the window's reference: the step's fault for an
after-check, the run's start for an audit check (``ProbeContext.since``).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
from redis.exceptions import RedisError

from test_coordinator.checks.base import (
    NoEndpoint,
    Observation,
    ProbeContext,
    describe_error,
    failed,
    resolve,
    short,
    unavailable,
)
from test_coordinator.checks.streams import (
    UNREACHABLE,
    TooManyEntries,
    connect,
    entry_seconds,
    read_entries,
)
from test_coordinator.scenario.model import AuditApi, AuditTrailProbe

__all__ = ["audit_api_url", "observe_audit_trail"]

# Entry ids carry the Redis server's clock, events their producer's: read a little earlier than
# the window so that a producer whose clock runs behind Redis's is not cut off.
_CLOCK_SLACK = 10.0

# The correlator filters on these itself; other fields of ``match`` are compared here.
_CORRELATOR_FILTERS = ("source", "event_type")


@dataclass(frozen=True)
class _Event:
    time: float | None
    fields: dict[str, str]


class _Unreadable(Exception):
    """The trail could not be read: the check could not look."""


async def observe_audit_trail(spec: AuditTrailProbe, ctx: ProbeContext) -> Observation:
    start, end = _window(spec, ctx.since)
    try:
        if spec.redis is not None:
            events = await _from_stream(spec, ctx, start)
        else:
            events = await _from_correlator(spec, ctx)
    except (_Unreadable, NoEndpoint) as exc:
        return unavailable(f"cannot read the audit trail: {exc}")
    except TooManyEntries as exc:
        return failed(str(exc))
    return _judge(spec, events, start, end, ctx.since)


def _window(spec: AuditTrailProbe, since: float | None) -> tuple[float | None, float | None]:
    if since is None:
        return None, None
    end = None if spec.window.after is None else since + spec.window.after
    return since - spec.window.before, end


async def _from_stream(
    spec: AuditTrailProbe, ctx: ProbeContext, start: float | None
) -> list[_Event]:
    assert spec.redis is not None
    endpoint = (await resolve(spec.redis, ctx, default_port="redis"))[0]
    first_id = "-" if start is None else str(max(0, int((start - _CLOCK_SLACK) * 1000)))
    try:
        async with connect(endpoint) as client:
            entries = await read_entries(client, spec.stream, first_id)
    except UNREACHABLE as exc:
        raise _Unreadable(f"{spec.stream} at {endpoint}: {describe_error(exc)}") from exc
    except RedisError as exc:  # answered, but not with a stream (WRONGTYPE)
        raise _Unreadable(f"{spec.stream} at {endpoint}: {exc}") from exc
    return [
        _Event(_time(fields.get(spec.time_field)) or entry_seconds(entry_id), fields)
        for entry_id, fields in entries
    ]


async def audit_api_url(api: AuditApi, ctx: ProbeContext) -> str:
    """The correlator's events URL: as given, or built from the target's endpoint and path."""
    if api.url is not None:
        return api.url
    path = api.path if api.path.startswith("/") else f"/{api.path}"
    return f"http://{(await resolve(api, ctx, default_port='http'))[0]}{path}"


async def _from_correlator(spec: AuditTrailProbe, ctx: ProbeContext) -> list[_Event]:
    assert spec.correlator is not None
    url = await audit_api_url(spec.correlator, ctx)
    query = {key: spec.match[key] for key in _CORRELATOR_FILTERS if key in spec.match}
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.get(url, params=query, allow_redirects=False) as response,
        ):
            if response.status != 200:
                raise _Unreadable(f"{url} answered HTTP {response.status}")
            body = await response.json(content_type=None)
    except aiohttp.ClientError as exc:
        raise _Unreadable(f"{url}: {describe_error(exc)}") from exc
    except ValueError as exc:
        raise _Unreadable(f"{url} did not answer JSON") from exc
    if not isinstance(body, list):
        raise _Unreadable(f"{url} did not answer a list of events")
    events = []
    for item in body:
        if isinstance(item, dict):
            fields = {str(key): _text(value) for key, value in item.items()}
            event_time = _time(fields.get(spec.time_field)) or entry_seconds(fields.get("id", ""))
            events.append(_Event(event_time, fields))
    return events


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _time(value: str | None) -> float | None:
    """Unix seconds, or ISO 8601 (a zone-less one taken as UTC)."""
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()
    return seconds if math.isfinite(seconds) and seconds > 0 else None


def _judge(
    spec: AuditTrailProbe,
    events: list[_Event],
    start: float | None,
    end: float | None,
    since: float | None,
) -> Observation:
    wanted = ", ".join(f"{key}={value}" for key, value in spec.match.items())
    matching = [e for e in events if all(e.fields.get(k) == v for k, v in spec.match.items())]
    inside = [e for e in matching if _within(e.time, start, end)]
    if inside:
        first = min(inside, key=lambda event: event.time or 0.0)
        pid = first.fields.get("pid")
        about = f" (pid {pid})" if pid else ""
        more = f" ({len(inside)} in the window)" if len(inside) > 1 else ""
        return Observation(
            passed=True, observed=short(f"found {wanted}{about}{_when(first.time, since)}{more}")
        )
    if not matching:
        return failed(f"no event with {wanted} among {len(events)} read")
    latest = max(matching, key=lambda event: event.time or 0.0)
    return failed(
        f"no event with {wanted} in the window; {len(matching)} outside it, "
        f"the latest{_when(latest.time, since)}"
    )


def _within(moment: float | None, start: float | None, end: float | None) -> bool:
    if start is None and end is None:
        return True
    if moment is None:
        return False  # an event without a time cannot be placed in a window
    return (start is None or moment >= start) and (end is None or moment <= end)


def _when(moment: float | None, since: float | None) -> str:
    if moment is None or since is None:
        return ""
    return f" at {moment - since:+.2f}s"
