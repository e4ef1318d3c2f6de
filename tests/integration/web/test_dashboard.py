"""The dashboard in a real headless Chromium: pages render what the database holds, values from
a scenario stay text, nothing is fetched from elsewhere, a phone-width screen needs no
sideways scrolling, and a running run moves on the page without a reload."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp import web
from test_coordinator.history import RunStore, open_store
from test_coordinator.scenario.status import (
    CheckStatus,
    Phase,
    ScenarioStatus,
    StepStatus,
    Verdict,
    When,
    utcnow,
)
from test_coordinator.web import LiveRun, add_dashboard

from tests.documents import chaos_scenario
from tests.integration.history.sample_runs import crash_scenario, finished
from tests.integration.loopback import serving
from tests.integration.web.browser import Chromium, ChromiumMissing, Tab, chromium, open_tab

HOSTILE_CHECK = '<img src=x onerror="window.pwned=1">'
HOSTILE_MESSAGE = "</td></table><script>window.pwned=2</script><b>bold?</b>"
HOSTILE_STEP = 'step <i>one</i> & "two"'


class FakeLive:
    """Stands in for the operator's runs in progress: the test moves them along."""

    def __init__(self) -> None:
        self.runs: list[LiveRun] = []

    def current_runs(self) -> Sequence[LiveRun]:
        return self.runs


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chromium]:
    try:
        with chromium(tmp_path_factory.mktemp("chromium-profile")) as running:
            yield running
    except ChromiumMissing as error:
        pytest.fail(str(error))


@pytest.fixture
async def tab(browser: Chromium) -> AsyncIterator[Tab]:
    opened = await open_tab(browser)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[RunStore]:
    async with open_store(f"sqlite:///{tmp_path / 'history.db'}") as opened:
        await fill(opened)
        yield opened


@pytest.fixture
def live() -> FakeLive:
    return FakeLive()


@pytest.fixture
async def site(store: RunStore, live: FakeLive) -> AsyncIterator[str]:
    app = web.Application()
    add_dashboard(app, store, live=live, poll=0.05)
    async with serving(app) as address:
        yield f"http://{address}"


async def fill(store: RunStore) -> None:
    now = utcnow()
    verdicts = [Verdict.PASS, Verdict.FAIL, Verdict.PASS, Verdict.PASS]
    for index, verdict in enumerate(verdicts):
        status = finished(f"crash{index}", now - timedelta(hours=9 - index), verdict=verdict,
                          recovery=1.0 + index)  # fmt: skip
        await store.record(crash_scenario(), status, platform="local", source="crash.yaml")
    for index in range(2):
        status = finished(f"db{index}", now - timedelta(days=3 - index), recovery=None)
        await store.record(crash_scenario("freeze-db"), status, platform="compose", source="db")
    odd = chaos_scenario(
        "odd-text",
        {
            "description": HOSTILE_MESSAGE,
            "targets": {"api": {"selector": {"app": "api"}}},
            "steps": [{"name": HOSTILE_STEP, "fault": {"kill": {"target": "api"}}}],
        },
    )
    status = finished("odd0", now - timedelta(minutes=5), verdict=Verdict.FAIL)
    status.message = HOSTILE_MESSAGE
    status.checks[0].name = HOSTILE_CHECK
    status.checks[0].observed = HOSTILE_MESSAGE
    status.faults[0].workload = "<b>api</b>"
    status.faults[0].step = HOSTILE_STEP
    await store.record(odd, status, platform="local", source="odd.yaml")


def nothing_from_elsewhere(tab: Tab, site: str) -> None:
    assert tab.requests, "the page made no request at all?"
    assert [url for url in tab.requests if not url.startswith(site)] == []
    assert [text for text in tab.console if "Content Security Policy" in text] == []


async def texts(tab: Tab, selector: str) -> list[str]:
    script = f"[...document.querySelectorAll({selector!r})].map(e => e.textContent.trim())"
    found: list[str] = await tab.evaluate(script)
    return found


async def test_the_index_lists_every_scenario_as_the_database_does(
    tab: Tab, site: str, store: RunStore
) -> None:
    await tab.goto(site + "/")
    summaries = await store.scenarios()
    assert await texts(tab, "table.scenarios tr td:first-child") == [s.name for s in summaries]
    assert await texts(tab, "table.scenarios .verdict") == ["Pass", "Pass", "Fail"]
    rates = await texts(tab, "table.scenarios tr td:nth-child(3)")
    assert rates == ["75% of 4", "100% of 2", "0% of 1"]
    # A sparkline per scenario: a line through crash-api's four recoveries and a red dot
    # for its failed run; freeze-db measured no recovery, so no line.
    lines = await tab.evaluate(
        "[...document.querySelectorAll('table.scenarios svg.spark')].map(s => ["
        "s.querySelectorAll('polyline').length, s.querySelectorAll('.spark-fail').length])"
    )
    assert lines == [[1, 1], [0, 0], [0, 1]]
    assert await texts(tab, "#live") == ["Nothing running."]
    nothing_from_elsewhere(tab, site)


async def test_a_scenario_page_lists_its_runs_newest_first(
    tab: Tab, site: str, store: RunStore
) -> None:
    await tab.goto(site + "/scenarios/crash-api")
    stored = await store.runs("crash-api", limit=100)
    assert await texts(tab, "table.runs tr td:first-child") == [run.run_id for run in stored]
    assert await texts(tab, "table.runs .verdict") == ["Pass", "Pass", "Fail", "Pass"]
    facts = dict(zip(await texts(tab, "dl.trend dt"), await texts(tab, "dl.trend dd"), strict=True))
    assert facts["pass rate"] == "75% (3 of 4 judged)"
    assert facts["recovery"] == "p50 2.00s · p95 4.00s · max 4.00s"
    assert facts["flaky"] == "yes: 2 flips, scenario unchanged"
    await tab.evaluate("document.querySelector('table.runs a').click()")
    await tab.wait_for(f"location.pathname === '/runs/{stored[0].run_id}'")
    nothing_from_elsewhere(tab, site)


async def test_a_run_page_has_the_reports_timeline(tab: Tab, site: str) -> None:
    await tab.goto(site + "/runs/crash1")
    assert await texts(tab, "h2 .verdict") == ["Fail"]
    chart = "svg[aria-label='timeline of faults and observations']"
    assert await tab.evaluate(f"document.querySelectorAll({chart!r}).length") == 1
    labels = await tab.evaluate(  # each label's own text, not its <title> (the full label)
        f"[...document.querySelectorAll({chart + ' text.label'!r})].map(e => e.firstChild.data)"
    )
    assert "during: api answers" in labels and "after: api back" in labels
    assert await texts(tab, f"{chart} text.fault-label") == ["pause api"]
    failed_marks = await tab.evaluate(f"document.querySelectorAll({chart + ' rect.fail'!r}).length")
    assert failed_marks > 0
    nothing_from_elsewhere(tab, site)


async def test_values_from_a_scenario_are_shown_as_text(tab: Tab, site: str) -> None:
    for path in ("/", "/scenarios/odd-text", "/runs/odd0"):
        await tab.goto(site + path)
        injected = await tab.evaluate(
            "document.querySelectorAll('img, b, i:not(.legend i), script:not([src])').length"
        )
        assert injected == 0, path
        assert await tab.evaluate("window.pwned === undefined"), path
    page = await tab.evaluate("document.body.innerText")
    for text in (HOSTILE_CHECK, HOSTILE_MESSAGE, HOSTILE_STEP, "<b>api</b>"):
        assert text in page


@pytest.mark.parametrize("path", ["/", "/scenarios/crash-api", "/runs/crash1", "/runs/odd0"])
async def test_a_phone_width_screen_needs_no_sideways_scrolling(
    tab: Tab, site: str, path: str
) -> None:
    await tab.viewport(375, 740, mobile=True)
    await tab.goto(site + path)
    # Not innerWidth: on a phone the layout viewport grows to fit content that overflows.
    content, screen = await tab.evaluate(
        "[document.documentElement.scrollWidth, visualViewport.width]"
    )
    assert screen == 375
    assert content <= screen, f"{path}: {content}px wide on a {screen}px screen"


async def test_a_running_run_moves_without_a_reload(
    tab: Tab, site: str, store: RunStore, live: FakeLive
) -> None:
    await tab.goto(site + "/")
    await tab.evaluate("window.stayed = true")
    status = ScenarioStatus(
        phase=Phase.RUNNING,
        run_id="live1",
        started_at=utcnow(),
        steps=[StepStatus(name="crash api")],
    )
    live.runs = [LiveRun("crash-api", "live1", "steady state", status)]
    await tab.wait_for("document.querySelector('#live').innerText.includes('live1')")
    assert await texts(tab, "#live .step") == ["steady state"]
    assert await tab.evaluate("window.stayed === true")  # updated in place

    await tab.goto(site + "/runs/live1")
    assert await texts(tab, "#live-run .step") == ["steady state"]
    await tab.evaluate("window.stayed = true")
    status.steps[0].phase = Phase.RUNNING
    up = CheckStatus(name="api up", when=When.STEADY_STATE, passed=True, observed="open")
    status.checks.append(up)
    live.runs = [LiveRun("crash-api", "live1", "step crash api: kill api", status)]
    await tab.wait_for("document.querySelector('#live-run .step').textContent.includes('kill')")
    assert await texts(tab, "#live-run .checks-count") == ["1 finished"]
    assert await texts(tab, "#live-run table.checks td:first-child") == ["api up"]
    assert await tab.evaluate("window.stayed === true")

    # The run ends: recorded, then gone from the live runs; the page becomes the stored run.
    await store.record(crash_scenario(), finished("live1", utcnow()), platform="local", source="c")
    live.runs = []
    await tab.wait_for("document.querySelector('h2 .verdict')?.textContent === 'Pass'")
    assert await tab.evaluate("window.stayed === undefined")  # reloaded
    nothing_from_elsewhere(tab, site)
