"""The run store on SQLite and on PostgreSQL: what is written reads back, lists and trends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from test_coordinator.history import RunNotFound, open_store
from test_coordinator.history.schema import check_results, faults, scenarios, specs
from test_coordinator.scenario.status import Phase, Verdict

from tests.integration.history.sample_runs import crash_scenario, finished
from tests.unit.report import sample_result

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def ago(**delta: float) -> datetime:
    return NOW - timedelta(**delta)


async def count(store: object, table: object) -> int:
    engine = await store._ready()  # type: ignore[attr-defined]
    async with engine.connect() as connection:
        return int(await connection.scalar(select(func.count()).select_from(table)))


async def test_a_run_reads_back_whole_with_its_samples(history_url: str) -> None:
    scenario, status = sample_result.scenario(), sample_result.status()
    async with open_store(history_url) as store:
        run_id = await store.record(scenario, status, platform="local", source="freeze.yaml")
        loaded_scenario, loaded = await store.load_run(run_id)
    assert run_id == "run1"
    assert loaded == status
    assert loaded.samples == status.samples and loaded.samples
    assert loaded.started_at is not None and loaded.started_at.tzinfo is not None
    assert loaded_scenario.spec == scenario.spec
    assert loaded_scenario.metadata.name == "freeze-api"
    assert loaded_scenario.status == loaded


async def test_checks_and_faults_have_their_own_rows(history_url: str) -> None:
    status = sample_result.status()
    async with open_store(history_url) as store:
        await store.record(sample_result.scenario(), status, platform="local", source="f.yaml")
        engine = await store._ready()
        async with engine.connect() as connection:
            stored = (await connection.execute(select(check_results))).all()
            [fault] = (await connection.execute(select(faults))).all()
    assert [(row.name, row.stage, row.passed, row.inconclusive) for row in stored] == [
        (check.name, check.when.value, check.passed, check.inconclusive) for check in status.checks
    ]
    assert (fault.action, fault.workload, fault.message) == ("pause", "api", "SIGSTOP; SIGCONT")
    assert fault.applied_at == status.faults[0].applied_at


async def test_runs_newest_first_by_scenario_and_since(history_url: str) -> None:
    crash, other = crash_scenario(), crash_scenario("other")
    async with open_store(history_url) as store:
        for run_id, started in (("old", ago(days=10)), ("mid", ago(days=2)), ("new", ago(hours=1))):
            await store.record(crash, finished(run_id, started), platform="local", source="c.yaml")
        await store.record(other, finished("o1", ago(days=1)), platform="compose", source="o.yaml")
        every = await store.runs()
        crashes = await store.runs("crash-api")
        recent = await store.runs(since=ago(days=3))
        newest = await store.runs("crash-api", limit=1)
        unknown = await store.runs("nothing-like-it")
    assert [run.run_id for run in every] == ["new", "o1", "mid", "old"]
    assert [run.run_id for run in crashes] == ["new", "mid", "old"]
    assert [run.run_id for run in recent] == ["new", "o1", "mid"]
    assert [run.run_id for run in newest] == ["new"]
    assert unknown == []
    [o1] = [run for run in every if run.run_id == "o1"]
    assert (o1.scenario, o1.platform, o1.source, o1.phase) == (
        "other",
        "compose",
        "o.yaml",
        Phase.SUCCEEDED,
    )
    assert (o1.verdict, o1.recovery_seconds, o1.duration_seconds) == (Verdict.PASS, 1.0, 5.0)
    assert o1.started_at == ago(days=1)


async def test_recording_the_same_run_twice_stores_it_once(history_url: str) -> None:
    status = finished("same", ago(hours=1))
    async with open_store(history_url) as store:
        for _ in range(2):
            await store.record(crash_scenario(), status, platform="local", source="c.yaml")
        assert [run.run_id for run in await store.runs()] == ["same"]
        assert await count(store, check_results) == len(status.checks)


async def test_one_spec_row_per_scenario_content(history_url: str) -> None:
    async with open_store(history_url) as store:
        for index in range(3):
            status = finished(f"r{index}", ago(hours=index))
            await store.record(crash_scenario(), status, platform="local", source="c.yaml")
        slower = crash_scenario(within="20s")
        await store.record(slower, finished("r9", NOW), platform="local", source="c.yaml")
        runs = await store.runs()
        assert await count(store, specs) == 2
        assert await count(store, scenarios) == 1
    assert len({run.spec_hash for run in runs}) == 2


async def test_trend_of_a_flaky_scenario(history_url: str) -> None:
    verdicts = [Verdict.PASS, Verdict.FAIL, Verdict.PASS, Verdict.PASS, Verdict.FAIL]
    async with open_store(history_url) as store:
        for index, verdict in enumerate(verdicts):
            status = finished(
                f"r{index}", ago(hours=10 - index), verdict=verdict, recovery=index + 1.0
            )
            await store.record(crash_scenario(), status, platform="local", source="c.yaml")
        trend = await store.trend("crash-api")
        window = await store.trend("crash-api", since=ago(hours=8.5))
        nothing = await store.trend("crash-api", since=ago(minutes=1))
    assert trend is not None and window is not None
    assert (trend.runs, trend.passed, trend.failed, trend.pass_rate) == (5, 3, 2, 0.6)
    assert (trend.recovery_p50, trend.recovery_max) == (3.0, 5.0)
    assert trend.flips == 3 and trend.flaky
    assert trend.last_change is not None
    assert (trend.last_change.run_id, trend.last_change.after) == ("r4", Verdict.FAIL)
    assert (window.runs, window.pass_rate) == (3, 2 / 3)
    assert nothing is None


async def test_a_run_by_a_unique_prefix_of_its_id(history_url: str) -> None:
    async with open_store(history_url) as store:
        for run_id in ("abcd1111", "abcd2222"):
            await store.record(
                crash_scenario(), finished(run_id, NOW), platform="local", source="c"
            )
        _, status = await store.load_run("abcd2")
        assert status.run_id == "abcd2222"
        with pytest.raises(RunNotFound, match=r"ambiguous.*abcd1111, abcd2222"):
            await store.load_run("abcd")
        with pytest.raises(RunNotFound, match="no run 'ffff' in "):
            await store.load_run("ffff")
        with pytest.raises(RunNotFound, match="no run 'ab%_' in "):
            await store.load_run("ab%_")  # LIKE wildcards match only themselves


async def test_prune_deletes_old_runs_and_what_only_they_used(history_url: str) -> None:
    old_scenario = crash_scenario("retired")
    async with open_store(history_url) as store:
        for index in range(3):
            status = finished(f"old{index}", ago(days=100 + index))
            await store.record(old_scenario, status, platform="local", source="r.yaml")
        await store.record(
            crash_scenario(), finished("young", ago(days=1)), platform="local", source="c"
        )
        assert await store.prune(timedelta(days=90), now=NOW) == 3
        assert [run.run_id for run in await store.runs()] == ["young"]
        assert await count(store, specs) == 1
        assert await count(store, scenarios) == 1
        assert await count(store, check_results) == len(finished("x", NOW).checks)
        assert await store.prune(timedelta(days=90), now=NOW) == 0


async def test_prune_works_in_batches(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from test_coordinator.history import store as store_module

    monkeypatch.setattr(store_module, "PRUNE_BATCH", 2)
    async with open_store(sqlite_url) as store:
        for index in range(5):
            status = finished(f"r{index}", ago(days=200 + index))
            await store.record(crash_scenario(), status, platform="local", source="c")
        assert await store.prune(timedelta(days=90), now=NOW) == 5
        assert await store.runs() == []


async def test_a_run_without_a_verdict_is_stored(history_url: str) -> None:
    status = finished("invalid", NOW, verdict=None, recovery=None)
    status.checks, status.faults, status.samples = [], [], []
    status.message = "spec.targets.api: selects nothing"
    async with open_store(history_url) as store:
        await store.record(crash_scenario(), status, platform="local", source="c")
        [run] = await store.runs()
        _, loaded = await store.load_run("invalid")
    assert (run.phase, run.verdict, run.recovery_seconds) == (Phase.INVALID, None, None)
    assert loaded.message == status.message


async def test_a_run_still_running_is_refused(sqlite_url: str) -> None:
    status = finished("r", NOW)
    status.phase = Phase.RUNNING
    async with open_store(sqlite_url) as store:
        with pytest.raises(ValueError, match="only a finished run"):
            await store.record(crash_scenario(), status, platform="local", source="c")


async def test_scenarios_at_a_glance(history_url: str) -> None:
    verdicts = [Verdict.PASS, Verdict.FAIL, Verdict.PASS, None, Verdict.PASS]
    async with open_store(history_url) as store:
        for index, verdict in enumerate(verdicts):
            status = finished(f"c{index}", ago(hours=10 - index), verdict=verdict, recovery=index)
            await store.record(crash_scenario(), status, platform="local", source="c")
        await store.record(
            crash_scenario("alpha"), finished("a0", ago(days=20)), platform="local", source="a"
        )
        every = await store.scenarios(recent=3)
        recent = await store.scenarios(since=ago(days=1))
    assert [summary.name for summary in every] == ["alpha", "crash-api"]
    alpha, crash = every
    assert (alpha.runs, alpha.pass_rate, alpha.last.run_id) == (1, 1.0, "a0")
    assert (crash.runs, crash.passed, crash.failed, crash.pass_rate) == (5, 3, 1, 0.75)
    assert [run.run_id for run in crash.recent] == ["c2", "c3", "c4"]  # oldest first
    assert [run.recovery_seconds for run in crash.recent] == [2.0, 3.0, 4.0]
    assert crash.last.verdict is Verdict.PASS
    assert [summary.name for summary in recent] == ["crash-api"]
