"""``noLoss`` against a real Redis stream: every gap and every duplicate found and named."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis
from test_coordinator.checks import Observation, ProbeContext, observe, take_baseline
from test_coordinator.scenario.model import Probe

from tests.conftest import RedisServer, free_port
from tests.integration.audit import Launcher, NoTargets

STREAM = "audit:orders"
COUNTER = "orders:seq"


def no_loss(address: str, **fields: Any) -> Probe:
    return Probe.model_validate(
        {"noLoss": {"redis": {"address": address}, "stream": STREAM, **fields}}
    )


@pytest.fixture
async def store(redis_server: RedisServer) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis(port=redis_server.port, decode_responses=True)
    async with client:
        yield client


async def produce(store: aioredis.Redis, numbers: range | list[int]) -> dict[int, str]:
    """An entry per number, as a producer writes them; the entry id of each."""
    ids: dict[int, str] = {}
    for number in numbers:
        ids[number] = await store.xadd(STREAM, {"seq": number, "order_id": f"o{number}"})
    if numbers:
        await store.set(COUNTER, max(numbers))
    return ids


async def judge(
    probe: Probe,
    *,
    before: range,
    during: range,
    store: aioredis.Redis,
    tamper: Callable[[dict[int, str]], Awaitable[None]] | None = None,
) -> Observation:
    """Numbers ``before`` the run, the baseline, numbers ``during`` it, ``tamper``, then observe."""
    await produce(store, before)
    context = ProbeContext(resolver=NoTargets())
    baseline = await take_baseline(probe, context)
    assert baseline is not None and baseline.position is not None
    ids = await produce(store, during)
    if tamper is not None:
        await tamper(ids)
    return await observe(probe, ProbeContext(resolver=NoTargets(), baseline=baseline))


async def test_every_number_recorded_once_passes(
    redis_server: RedisServer, store: aioredis.Redis
) -> None:
    observation = await judge(
        no_loss(redis_server.address), before=range(1, 6), during=range(6, 26), store=store
    )

    assert observation.passed, observation.observed
    assert observation.observed == "20 numbers 6-25, each once"


async def test_a_deleted_entry_and_a_repeated_one_are_both_named(
    redis_server: RedisServer, store: aioredis.Redis
) -> None:
    async def tamper(ids: dict[int, str]) -> None:
        await store.xdel(STREAM, ids[12])
        await store.xadd(STREAM, {"seq": 17, "order_id": "o17"})

    observation = await judge(
        no_loss(redis_server.address),
        before=range(1, 6),
        during=range(6, 26),
        store=store,
        tamper=tamper,
    )

    assert not observation.passed
    assert not observation.inconclusive  # the trail was read: this is a finding
    assert observation.observed == "1 missing (12) and 1 duplicated (17) of 6-25"


async def test_a_gap_right_after_the_start_and_runs_of_gaps(
    redis_server: RedisServer, store: aioredis.Redis
) -> None:
    async def tamper(ids: dict[int, str]) -> None:
        await store.xdel(STREAM, ids[6], ids[9], ids[10], ids[11])

    observation = await judge(
        no_loss(redis_server.address),
        before=range(1, 6),
        during=range(6, 16),
        store=store,
        tamper=tamper,
    )

    assert observation.observed == "4 missing (6, 9-11) of 6-15"


async def test_the_producer_counter_reveals_a_lost_last_entry(
    redis_server: RedisServer, store: aioredis.Redis
) -> None:
    async def tamper(ids: dict[int, str]) -> None:
        await store.incr(COUNTER)  # number 16 issued, its entry never written

    counted = await judge(
        no_loss(redis_server.address, sequenceKey=COUNTER),
        before=range(1, 6),
        during=range(6, 16),
        store=store,
        tamper=tamper,
    )

    assert counted.observed == "1 missing (16) of 6-16"


async def test_a_number_from_before_the_run_recorded_again_is_a_duplicate(
    redis_server: RedisServer, store: aioredis.Redis
) -> None:
    async def tamper(ids: dict[int, str]) -> None:
        await store.xadd(STREAM, {"seq": 3, "order_id": "o3"})

    observation = await judge(
        no_loss(redis_server.address),
        before=range(1, 6),
        during=range(6, 11),
        store=store,
        tamper=tamper,
    )

    assert observation.observed == "1 duplicated (3) of 6-10"


async def test_a_stream_that_lost_its_start_fails(
    redis_server: RedisServer, store: aioredis.Redis
) -> None:
    async def tamper(ids: dict[int, str]) -> None:
        first = (await store.xrange(STREAM, count=5))[4][0]  # the entry of number 5
        await store.xdel(STREAM, first)

    observation = await judge(
        no_loss(redis_server.address),
        before=range(1, 6),
        during=range(6, 11),
        store=store,
        tamper=tamper,
    )

    assert not observation.passed
    assert "ended with when the run began" in observation.observed
    assert "is gone" in observation.observed


async def test_no_numbers_since_the_start_fails_with_a_hint(
    redis_server: RedisServer, store: aioredis.Redis
) -> None:
    observation = await judge(
        no_loss(redis_server.address), before=range(1, 6), during=range(0), store=store
    )

    assert not observation.passed
    assert "is the producer writing to audit:orders?" in observation.observed


async def test_an_unreachable_redis_is_inconclusive_not_a_finding() -> None:
    probe = no_loss(f"127.0.0.1:{free_port()}")
    context = ProbeContext(resolver=NoTargets())

    baseline = await take_baseline(probe, context)
    assert baseline is not None and baseline.position is None
    assert "connection refused" in baseline.problem
    observation = await observe(probe, ProbeContext(resolver=NoTargets(), baseline=baseline))

    assert not observation.passed and observation.inconclusive
    assert observation.observed.startswith("could not read the stream as the run began: ")
    assert "connection refused" in observation.observed


async def test_a_redis_gone_after_the_start_is_inconclusive(
    redis_server: RedisServer, store: aioredis.Redis
) -> None:
    # Baseline from the real Redis, then an address where nothing listens.
    probe = no_loss(redis_server.address)
    await produce(store, range(1, 4))
    baseline = await take_baseline(probe, ProbeContext(resolver=NoTargets()))
    elsewhere = no_loss(f"127.0.0.1:{free_port()}")

    observation = await observe(elsewhere, ProbeContext(resolver=NoTargets(), baseline=baseline))

    assert observation.inconclusive
    assert "cannot read audit:orders at 127.0.0.1:" in observation.observed
    assert observation.observed.endswith("connection refused")


# --- with the demo's order gateway as the producer ---------------------------------------------


async def test_a_gap_and_a_duplicate_in_the_gateways_live_stream(
    redis_server: RedisServer, store: aioredis.Redis, launcher: Launcher
) -> None:
    # No risk monitor: every order is recorded as risk_unavailable, still numbered.
    launcher.start("order-gateway", "--risk", f"127.0.0.1:{free_port()}", "--load-rate", "100")
    probe = no_loss(redis_server.address, sequenceKey=COUNTER)
    baseline = await take_baseline(probe, ProbeContext(resolver=NoTargets()))
    assert baseline is not None and baseline.position is not None

    async def entries_since_start() -> list[tuple[str, dict[str, str]]]:
        return list(await store.xrange(STREAM, min=f"({baseline.position}"))

    seen = await wait_async(entries_since_start, lambda found: len(found) >= 30)
    clean = await observe(probe, ProbeContext(resolver=NoTargets(), baseline=baseline))
    lost_id, lost = seen[10]
    _, copied = seen[20]
    await store.xdel(STREAM, lost_id)
    await store.xadd(STREAM, copied)  # the same order recorded twice
    tampered = await observe(probe, ProbeContext(resolver=NoTargets(), baseline=baseline))

    assert clean.passed, clean.observed
    assert not tampered.passed
    assert tampered.observed.startswith(
        f"1 missing ({lost['seq']}) and 1 duplicated ({copied['seq']}) of "
    )


Entries = list[tuple[str, dict[str, str]]]


async def wait_async(
    read: Callable[[], Awaitable[Entries]], done: Callable[[Entries], bool], timeout: float = 10.0
) -> Entries:
    """``read()`` until ``done`` says its result will do; a failure after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not done(result := await read()):
        assert time.monotonic() < deadline, "the gateway did not record enough orders in time"
        await asyncio.sleep(0.05)
    return result
