"""The dashboard's routes on an aiohttp application: read-only pages over a run store and,
optionally, the runs in progress, which pages follow through server-sent events.

    /                       every scenario: last verdict, pass rate, recovery sparkline;
                            and what is running now (followed live)
    /scenarios/{name}       its trend and its runs
    /runs/{run_id}          a stored run, as the HTML report shows it; a running one, live
    /runs/{run_id}/events   the running run's section, as it changes; "finished" at its end
    /_dashboard/live        the index's "running now", as it changes
    /_dashboard/live.js     the few lines of script that follow those streams
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from datetime import datetime

from aiohttp import web

from test_coordinator.errors import ScenarioInvalid
from test_coordinator.history.errors import HistoryUnavailable, RunNotFound
from test_coordinator.history.store import RunStore
from test_coordinator.scenario.status import utcnow
from test_coordinator.web import pages
from test_coordinator.web.live import LiveRun, LiveRuns

__all__ = ["add_dashboard"]

RUNS_ON_A_SCENARIO_PAGE = 100
STREAM_SECONDS = 300.0  # then the stream ends and the browser's EventSource reconnects
KEEPALIVE_SECONDS = 15.0

_SECURITY_HEADERS = {
    # Nothing from anywhere else, ever: the page works offline, and injected markup could not
    # load or send anything even if escaping failed.
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; script-src 'self'; "
        "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class _NothingRunning:
    def current_runs(self) -> Sequence[LiveRun]:
        return ()


def add_dashboard(
    app: web.Application,
    store: RunStore,
    *,
    live: LiveRuns | None = None,
    poll: float = 0.5,
) -> None:
    """Add the dashboard's routes at ``/`` of ``app``; ``live`` says what is running now,
    asked every ``poll`` seconds while a page follows it. The store stays the caller's to
    close; streams end when the application shuts down."""
    dashboard = _Dashboard(store, live or _NothingRunning(), poll=poll)
    app.router.add_get("/", dashboard.index)
    app.router.add_get("/scenarios/{name}", dashboard.scenario)
    app.router.add_get("/runs/{run_id}", dashboard.run)
    app.router.add_get("/runs/{run_id}/events", dashboard.run_events)
    app.router.add_get("/_dashboard/live", dashboard.live_events)
    app.router.add_get(pages.SCRIPT_PATH, dashboard.script)
    app.on_shutdown.append(dashboard.close_streams)


class _Dashboard:
    def __init__(self, store: RunStore, live: LiveRuns, *, poll: float) -> None:
        self.store = store
        self.live = live
        self.poll = poll
        self.closing = asyncio.Event()

    async def index(self, request: web.Request) -> web.Response:
        running = self._running()
        try:
            summaries = await self.store.scenarios()
        except HistoryUnavailable as error:
            page = pages.index_page([], running, now=utcnow(), problem=str(error))
            return _html(page, status=503)
        return _html(pages.index_page(summaries, running, now=utcnow()))

    async def scenario(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        try:
            runs = await self.store.runs(name, limit=RUNS_ON_A_SCENARIO_PAGE)
            trend = await self.store.trend(name) if runs else None
        except HistoryUnavailable as error:
            return _html(pages.message_page("history unavailable", str(error)), status=503)
        running = self._running()
        if not runs and not any(run.scenario == name for run in running):
            message = f"no run of scenario {name!r} is recorded"
            return _html(pages.message_page("not found", message), status=404)
        return _html(pages.scenario_page(name, trend, runs, running, now=utcnow()))

    async def run(self, request: web.Request) -> web.Response:
        run_id = request.match_info["run_id"]
        running = self._find(run_id)
        if running is not None:
            return _html(pages.live_run_page(running, now=utcnow()))
        try:
            scenario, status = await self.store.load_run(run_id)
        except RunNotFound as error:
            return _html(pages.message_page("not found", str(error)), status=404)
        except HistoryUnavailable as error:
            return _html(pages.message_page("history unavailable", str(error)), status=503)
        except ScenarioInvalid as error:
            return _html(pages.message_page("cannot show this run", str(error)), status=500)
        return _html(pages.run_page(scenario, status))

    async def run_events(self, request: web.Request) -> web.StreamResponse:
        run_id = request.match_info["run_id"]

        def section(now: datetime) -> str | None:
            running = self._find(run_id)
            return None if running is None else pages.live_run_section(running, now=now)

        return await self._stream(request, section)

    async def live_events(self, request: web.Request) -> web.StreamResponse:
        return await self._stream(request, lambda now: pages.live_list(self._running(), now=now))

    async def script(self, request: web.Request) -> web.Response:
        return web.Response(
            text=pages.LIVE_SCRIPT,
            content_type="text/javascript",
            headers={**_SECURITY_HEADERS, "Cache-Control": "max-age=300"},
        )

    async def close_streams(self, app: web.Application) -> None:
        self.closing.set()

    async def _stream(
        self, request: web.Request, render: Callable[[datetime], str | None]
    ) -> web.StreamResponse:
        """Server-sent events: ``update`` with the fragment whenever it changes; ``finished``
        once ``render`` has nothing (the run is over)."""
        response = web.StreamResponse(
            headers={
                **_SECURITY_HEADERS,
                "Content-Type": "text/event-stream; charset=utf-8",
                "Cache-Control": "no-store",
            }
        )
        await response.prepare(request)
        loop = asyncio.get_running_loop()
        ends = loop.time() + STREAM_SECONDS
        sent: str | None = None
        quiet_since = loop.time()
        with contextlib.suppress(ConnectionError):
            while loop.time() < ends and not self.closing.is_set():
                fragment = render(utcnow())
                if fragment is None:
                    await response.write(_event("finished", ""))
                    break
                if fragment != sent:
                    await response.write(_event("update", fragment))
                    sent, quiet_since = fragment, loop.time()
                elif loop.time() - quiet_since > KEEPALIVE_SECONDS:
                    await response.write(b": still here\n\n")  # finds a client that left
                    quiet_since = loop.time()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.closing.wait(), timeout=self.poll)
        return response

    def _running(self) -> list[LiveRun]:
        return list(self.live.current_runs())

    def _find(self, run_id: str) -> LiveRun | None:
        return next((run for run in self._running() if run.run_id == run_id), None)


def _event(name: str, data: str) -> bytes:
    lines = data.splitlines() or [""]
    return (f"event: {name}\n" + "".join(f"data: {line}\n" for line in lines) + "\n").encode()


def _html(page: str, *, status: int = 200) -> web.Response:
    return web.Response(
        text=page,
        status=status,
        content_type="text/html",
        charset="utf-8",
        headers={**_SECURITY_HEADERS, "Cache-Control": "no-store"},
    )
