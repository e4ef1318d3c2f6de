"""``auditTrail`` against the demo services' real audit trail: Redis streams and the correlator."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp import web
from test_coordinator.checks import ProbeContext, observe

from tests.conftest import RedisServer, free_port
from tests.integration.audit import Launcher, NoTargets, probe
from tests.integration.loopback import serving

STARTED = {"event_type": "service_started", "source": "risk-monitor"}


@pytest.fixture
async def store(redis_server: RedisServer) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis(port=redis_server.port, decode_responses=True)
    async with client:
        yield client


def since(moment: float) -> ProbeContext:
    return ProbeContext(resolver=NoTargets(), since=moment)


async def test_the_restart_event_is_found_only_after_the_kill(
    redis_server: RedisServer, launcher: Launcher
) -> None:
    first = launcher.start("risk-monitor")  # healthy: its start-up event is on record
    restart = probe("auditTrail", redis={"address": redis_server.address}, match=STARTED)
    kill_at = time.time()

    before = await observe(restart, since(kill_at))
    first.proc.kill()
    first.proc.wait()
    second = launcher.start("risk-monitor", grpc_port=first.grpc_port)
    after = await observe(restart, since(kill_at))

    assert not before.passed and not before.inconclusive
    assert before.observed.startswith(
        "no event with event_type=service_started, source=risk-monitor in the window; "
        "1 outside it, the latest at -"
    )
    assert after.passed, after.observed
    assert f"(pid {second.proc.pid}) at +" in after.observed
    assert str(first.proc.pid) not in after.observed


async def test_the_window_bounds_how_late_an_event_may_be(
    redis_server: RedisServer, store: aioredis.Redis
) -> None:
    fault_at = time.time() - 10  # ten seconds ago, the fault; the event is now
    await store.xadd("audit:events", {**STARTED, "timestamp": time.time()})
    late = probe(
        "auditTrail",
        redis={"address": redis_server.address},
        match=STARTED,
        window={"after": "5s"},
    )
    any_time = probe("auditTrail", redis={"address": redis_server.address}, match=STARTED)

    assert not (await observe(late, since(fault_at))).passed
    assert (await observe(any_time, since(fault_at))).passed


async def test_every_field_of_match_must_agree_and_the_time_field_is_read(
    redis_server: RedisServer, store: aioredis.Redis
) -> None:
    now = time.time()
    # Written late with its own (earlier) time: the event's field, not the entry id, places it.
    await store.xadd("audit:events", {**STARTED, "pid": "41", "at": str(now - 60)})
    await store.xadd("audit:events", {**STARTED, "pid": "42", "at": str(now)})

    def with_pid(pid: str) -> Any:
        match = {**STARTED, "pid": pid}
        return probe(
            "auditTrail", redis={"address": redis_server.address}, match=match, timeField="at"
        )

    assert (await observe(with_pid("42"), since(now - 1))).passed
    old = await observe(with_pid("41"), since(now - 1))
    assert not old.passed and "the latest at -59." in old.observed
    assert not (await observe(with_pid("43"), since(now - 1))).passed


async def test_the_correlator_answers_with_the_restart(
    redis_server: RedisServer, launcher: Launcher
) -> None:
    correlator = launcher.start("audit-correlator")
    first = launcher.start("risk-monitor")
    kill_at = time.time()
    first.proc.kill()
    first.proc.wait()
    second = launcher.start("risk-monitor", grpc_port=first.grpc_port)
    restart = probe(
        "auditTrail",
        correlator={"address": f"127.0.0.1:{correlator.http_port}"},
        match={**STARTED, "pid": str(second.proc.pid)},
    )
    deadline = time.monotonic() + 10  # the correlator reads the stream a moment later
    while not (seen := await observe(restart, since(kill_at))).passed:
        assert time.monotonic() < deadline, seen.observed

    assert f"(pid {second.proc.pid})" in seen.observed


async def test_an_unreachable_trail_is_inconclusive() -> None:
    nowhere = f"127.0.0.1:{free_port()}"
    from_redis = await observe(
        probe("auditTrail", redis={"address": nowhere}, match=STARTED), since(time.time())
    )
    from_correlator = await observe(
        probe("auditTrail", correlator={"address": nowhere}, match=STARTED), since(time.time())
    )

    for observation in (from_redis, from_correlator):
        assert not observation.passed and observation.inconclusive
        assert observation.observed.startswith("cannot read the audit trail: ")
        assert observation.observed.endswith("connection refused")


@pytest.fixture
async def not_a_correlator() -> AsyncIterator[str]:
    """An HTTP server without the audit API: every path is 404."""
    async with serving(web.Application()) as address:
        yield address


async def test_a_server_without_the_audit_api_is_inconclusive(not_a_correlator: str) -> None:
    observation = await observe(
        probe("auditTrail", correlator={"address": not_a_correlator}, match=STARTED),
        since(time.time()),
    )

    assert observation.inconclusive
    assert observation.observed == (
        f"cannot read the audit trail: http://{not_a_correlator}/api/v1/audit/events "
        "answered HTTP 404"
    )
