"""The dashboard over HTTP, without a browser: status codes, headers, the event streams, and
a history that is down."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from test_coordinator.history import RunStore, open_store
from test_coordinator.scenario.status import Phase, ScenarioStatus, utcnow
from test_coordinator.web import LiveRun, add_dashboard

from tests.conftest import free_port
from tests.integration.history.sample_runs import crash_scenario, finished
from tests.integration.loopback import serving
from tests.integration.web.test_dashboard import FakeLive

Serve = Callable[[RunStore], Coroutine[Any, Any, str]]


@pytest.fixture
async def serve(live: FakeLive) -> AsyncIterator[Serve]:
    async with contextlib.AsyncExitStack() as servers:

        async def start(store: RunStore) -> str:
            app = web.Application()
            add_dashboard(app, store, live=live, poll=0.05)
            return f"http://{await servers.enter_async_context(serving(app))}"

        yield start


@pytest.fixture
def live() -> FakeLive:
    return FakeLive()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[RunStore]:
    async with open_store(f"sqlite:///{tmp_path / 'h.db'}") as opened:
        await opened.record(crash_scenario(), finished("r1", utcnow()), platform="l", source="c")
        yield opened


def running(run_id: str = "live1") -> LiveRun:
    status = ScenarioStatus(phase=Phase.RUNNING, run_id=run_id, started_at=utcnow())
    return LiveRun("crash-api", run_id, "steady state", status)


async def get(url: str) -> tuple[int, dict[str, str], str]:
    async with aiohttp.ClientSession() as client, client.get(url) as response:
        return response.status, dict(response.headers), await response.text()


async def test_pages_and_what_is_not_there(serve: Serve, store: RunStore) -> None:
    site = await serve(store)
    status, headers, page = await get(site + "/")
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "crash-api" in page
    for path, expected in (("/runs/r1", 200), ("/scenarios/crash-api", 200)):
        assert (await get(site + path))[0] == expected, path
    status, _, page = await get(site + "/runs/nope")
    assert status == 404 and "no run &#x27;nope&#x27; in sqlite:///" in page
    status, _, page = await get(site + "/scenarios/never-ran")
    assert status == 404 and "no run of scenario &#x27;never-ran&#x27;" in page
    status, headers, script = await get(site + "/_dashboard/live.js")
    assert status == 200 and headers["Content-Type"].startswith("text/javascript")
    assert "EventSource" in script


async def test_a_history_that_is_down_still_shows_what_is_running(
    serve: Serve, live: FakeLive
) -> None:
    live.runs = [running()]
    async with open_store(f"postgresql://tc@127.0.0.1:{free_port()}/h", timeout=1) as down:
        site = await serve(down)
        status, _, page = await get(site + "/")
        assert status == 503
        assert "history unavailable: postgresql://tc@127.0.0.1:" in page and "live1" in page
        assert (await get(site + "/runs/live1"))[0] == 200  # live: no need for the store
        assert (await get(site + "/runs/r1"))[0] == 503


async def read_events(url: str, *, until: str, timeout: float = 10) -> list[tuple[str, str]]:
    """(event, data) pairs from a stream, until an event named ``until`` or the stream ends."""
    events: list[tuple[str, str]] = []
    name, data = "", []
    async with aiohttp.ClientSession() as client, client.get(url) as response:
        assert response.headers["Content-Type"] == "text/event-stream; charset=utf-8"
        async with asyncio.timeout(timeout):
            async for raw in response.content:
                line = raw.decode().rstrip("\n")
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: "):
                    data.append(line[6:])
                elif not line and name:
                    events.append((name, "\n".join(data)))
                    if name == until:
                        break
                    name, data = "", []
    return events


async def test_a_run_stream_sends_changes_then_finished(
    serve: Serve, store: RunStore, live: FakeLive
) -> None:
    site = await serve(store)
    live.runs = [running()]

    async def move_on() -> None:
        await asyncio.sleep(0.3)
        live.runs = [LiveRun("crash-api", "live1", "step crash: kill <api>", running().status)]
        await asyncio.sleep(0.3)
        live.runs = []

    mover = asyncio.create_task(move_on())
    events = await read_events(site + "/runs/live1/events", until="finished")
    await mover
    names = [name for name, _ in events]
    assert names == ["update", "update", "finished"]
    assert "steady state" in events[0][1]
    assert "step crash: kill &lt;api&gt;" in events[1][1]


async def test_streams_end_when_the_application_shuts_down(store: RunStore) -> None:
    live = FakeLive()
    live.runs = [running()]
    app = web.Application()
    add_dashboard(app, store, live=live, poll=0.05)
    runner = web.AppRunner(app, shutdown_timeout=30)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    reading = asyncio.create_task(
        read_events(f"http://127.0.0.1:{port}/_dashboard/live", until="never", timeout=30)
    )
    await asyncio.sleep(0.3)
    began = time.monotonic()
    await runner.cleanup()
    assert time.monotonic() - began < 10  # not the 30 s a handler still streaming would cost
    events = await reading
    assert events and events[0][0] == "update" and "live1" in events[0][1]
