"""Whole runs with an audit sink and audit checks: real processes, a real Redis, the correlator."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis
from test_coordinator.engine import run_scenario
from test_coordinator.engine.audit import FLUSH_TIMEOUT
from test_coordinator.platforms.local import LocalPlatform
from test_coordinator.scenario import ChaosScenario, Phase, Verdict, When

from tests.conftest import RedisServer, free_port
from tests.documents import chaos_scenario
from tests.integration.audit import Launcher
from tests.integration.stacks import alive, started_pids, tiny, tiny_stack

FREEZE = {"name": "freeze api", "fault": {"pause": {"target": "api"}}, "duration": "300ms"}


def scenario(**spec: Any) -> ChaosScenario:
    targets = {"api": {"selector": {"app": "api"}}}
    return chaos_scenario("audited", {"targets": targets, "steps": [FREEZE], **spec})


def sink_stream(address: str) -> dict[str, Any]:
    return {"redisStream": {"redis": {"address": address}, "stream": "chaos:audit"}}


@pytest.fixture
async def platform(tmp_path: Path) -> AsyncIterator[LocalPlatform]:
    pid_dir = tmp_path / "pids"
    pid_dir.mkdir()
    async with LocalPlatform(
        tiny_stack(pid_dir, api=tiny("api", pid_dir)), log_dir=tmp_path / "logs"
    ) as platform:
        yield platform  # type: ignore[misc]
    assert not [pid for pid in started_pids(pid_dir) if alive(pid)], "a process outlived the run"


async def test_the_run_records_its_faults_and_verdict_in_a_redis_stream(
    platform: LocalPlatform, redis_server: RedisServer, store: redis.Redis
) -> None:
    started = time.time()
    status = await run_scenario(
        scenario(
            auditSink=sink_stream(redis_server.address),
            audit=[
                {
                    "name": "freeze on record",
                    "auditTrail": {
                        "redis": {"address": redis_server.address},
                        "stream": "chaos:audit",
                        "match": {"event_type": "chaos_fault_applied", "workload": "api"},
                    },
                    "within": "2s",
                }
            ],
        ),
        platform,
    )

    assert status.verdict is Verdict.PASS, status.message
    assert status.audit_sink == f"wrote 4 events to stream chaos:audit on {redis_server.address}"
    events = [fields for _, fields in store.xrange("chaos:audit")]
    assert [e["event_type"] for e in events] == [
        "chaos_run_started",
        "chaos_fault_applied",
        "chaos_fault_reverted",
        "chaos_verdict",
    ]
    for event in events:
        assert event["source"] == "test-coordinator"
        assert event["scenario"] == "audited" and event["run_id"] == status.run_id
        assert started <= float(event["timestamp"]) <= time.time()
    applied, reverted = events[1], events[2]
    assert applied["step"] == "freeze api" and applied["action"] == "pause"
    assert "SIGSTOP" in applied["message"]
    assert float(reverted["timestamp"]) - float(applied["timestamp"]) >= 0.3
    assert events[3]["verdict"] == "Pass" and events[3]["message"].startswith("Pass: ")
    [audit] = [check for check in status.checks if check.when is When.AUDIT]
    assert audit.passed and audit.observed.startswith("found event_type=chaos_fault_applied")


async def test_the_correlators_api_takes_the_events(
    platform: LocalPlatform, launcher: Launcher
) -> None:
    correlator = launcher.start("audit-correlator")
    api = f"http://127.0.0.1:{correlator.http_port}/api/v1/audit/events"
    status = await run_scenario(
        scenario(auditSink={"http": {"url": api}, "source": "chaos-suite"}), platform
    )

    assert status.audit_sink == f"wrote 4 events to POST {api}"
    deadline = time.monotonic() + 10  # the correlator reads back from its stream
    while len(found := await _get_json(f"{api}?source=chaos-suite")) < 4:
        assert time.monotonic() < deadline, found
        await asyncio.sleep(0.05)
    assert [event["event_type"] for event in found][-1] == "chaos_verdict"
    assert {event["run_id"] for event in found} == {status.run_id}


async def _get_json(url: str) -> list[dict[str, str]]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        body: list[dict[str, str]] = await response.json()
        return body


async def test_an_unreachable_sink_and_trail_make_the_run_inconclusive_never_a_crash(
    platform: LocalPlatform,
) -> None:
    nowhere = f"127.0.0.1:{free_port()}"
    status = await run_scenario(
        scenario(
            auditSink=sink_stream(nowhere),
            audit=[
                {"name": "nothing lost", "noLoss": {"redis": {"address": nowhere}, "stream": "s"}},
                {
                    "name": "freeze on record",
                    "auditTrail": {"redis": {"address": nowhere}, "match": {"action": "pause"}},
                },
            ],
        ),
        platform,
    )

    assert status.phase is Phase.FAILED
    assert status.verdict is Verdict.INCONCLUSIVE
    assert status.message.startswith("the audit trail could not be read, so it proves nothing: ")
    ready = next(condition for condition in status.conditions if condition.type == "Ready")
    assert ready.status == "False" and ready.reason == "AuditUnavailable"
    audits = [check for check in status.checks if check.when is When.AUDIT]
    assert len(audits) == 2 and all(not c.passed and c.inconclusive for c in audits)
    assert all("connection refused" in c.observed for c in audits)
    assert status.audit_sink == (
        f"4 of 4 events not written to stream chaos:audit on {nowhere}: connection refused"
    )
    assert status.faults[0].reverted_at is not None  # the run itself went on as usual


async def test_a_real_failure_beside_an_unreachable_trail_is_a_fail(
    platform: LocalPlatform,
) -> None:
    nowhere = f"127.0.0.1:{free_port()}"
    frozen = {
        **FREEZE,
        "after": [{"name": "never there", "tcp": {"address": nowhere}, "within": "200ms"}],
    }
    status = await run_scenario(
        scenario(
            steps=[frozen],
            audit=[
                {"name": "nothing lost", "noLoss": {"redis": {"address": nowhere}, "stream": "s"}}
            ],
        ),
        platform,
    )

    assert status.verdict is Verdict.FAIL
    assert "never there" in status.message


@pytest.fixture
def silent_server() -> Iterator[str]:
    """Accepts connections and never answers: a sink that hangs."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield f"127.0.0.1:{server.getsockname()[1]}"


async def test_a_sink_that_never_answers_delays_the_end_by_a_bounded_time(
    platform: LocalPlatform, silent_server: str
) -> None:
    began = time.monotonic()
    status = await run_scenario(
        scenario(auditSink={"http": {"url": f"http://{silent_server}/events"}}), platform
    )
    took = time.monotonic() - began

    assert status.verdict is Verdict.PASS
    assert status.audit_sink is not None
    assert status.audit_sink.endswith(": no answer within 2s"), status.audit_sink
    assert took < 0.3 + FLUSH_TIMEOUT + 3.0
