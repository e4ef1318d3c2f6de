"""The bound on runs in progress: first due, first started; none beyond the bound; a run that
gives up waiting leaves the line (and a slot granted as it gave up goes to the next)."""

from __future__ import annotations

import asyncio

from test_coordinator.reconcile.slots import RunSlots


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_runs_beyond_the_bound_wait_and_start_in_the_order_they_came() -> None:
    slots = RunSlots(2)
    started: list[str] = []
    places: dict[str, list[int]] = {}

    async def run(name: str) -> None:
        await slots.acquire(lambda ahead: places.setdefault(name, []).append(ahead))
        started.append(name)

    assert slots.try_acquire() and slots.try_acquire()
    waiting = [asyncio.create_task(run(name)) for name in "abcd"]
    await settle()
    assert started == [] and slots.waiting == 4
    assert places == {"a": [0], "b": [1], "c": [2], "d": [3]}

    slots.release()
    await settle()
    assert started == ["a"]
    assert places["d"] == [3, 2]  # told that the line moved

    slots.release()
    slots.release()
    await settle()
    assert started == ["a", "b", "c"] and slots.running == 2
    slots.release()
    await settle()
    assert started == ["a", "b", "c", "d"]
    await asyncio.gather(*waiting)


async def test_a_run_that_gives_up_waiting_leaves_the_line() -> None:
    slots = RunSlots(1)
    assert slots.try_acquire()
    first = asyncio.create_task(slots.acquire())
    places: list[int] = []
    second = asyncio.create_task(slots.acquire(places.append))
    await settle()
    assert places == [1]

    first.cancel()
    await settle()
    assert places == [1, 0] and slots.waiting == 1

    slots.release()
    await second
    assert slots.running == 1 and slots.waiting == 0


async def test_a_slot_granted_as_its_run_gives_up_goes_to_the_next() -> None:
    slots = RunSlots(1)
    assert slots.try_acquire()
    first = asyncio.create_task(slots.acquire())
    second = asyncio.create_task(slots.acquire())
    await settle()

    slots.release()  # granted to the first...
    first.cancel()  # ...which gives up before it runs
    await settle()

    assert first.cancelled()
    assert second.done() and slots.running == 1


async def test_a_higher_bound_starts_the_waiting_at_once() -> None:
    bound = 1
    slots = RunSlots(lambda: bound)
    assert slots.try_acquire()
    waiting = asyncio.create_task(slots.acquire())
    await settle()
    assert not waiting.done()

    bound = 2
    slots.refresh()
    await settle()

    assert waiting.done() and slots.running == 2


async def test_nobody_jumps_the_line() -> None:
    slots = RunSlots(1)
    assert slots.try_acquire()
    waiting = asyncio.create_task(slots.acquire())
    await settle()
    slots.release()
    assert not slots.try_acquire()  # the slot is the waiting run's
    await waiting
