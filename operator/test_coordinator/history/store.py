"""The run store: every finished run written once, read back as lists, trends and whole runs.

Nothing here may fail or stall a run: every operation is bounded by the store's timeout, and
whatever goes wrong (a server down, a file locked, a schema newer than this version) comes out
as one ``HistoryUnavailable`` with the reason, for the caller to report beside the result.
The engine is made, and the schema migrated, on first use: a store for a server that is down
can be opened, and each operation tries again.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from itertools import count
from types import TracebackType
from typing import Any, Self, TypeVar

from sqlalchemy import Row, Select, case, delete, exists, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from test_coordinator.errors import ScenarioInvalid
from test_coordinator.history import migrate
from test_coordinator.history.config import HistoryUrl, parse_history_url
from test_coordinator.history.connection import create_engine, writing
from test_coordinator.history.documents import (
    document_hash,
    restore_run,
    samples_document,
    scenario_document,
    status_document,
)
from test_coordinator.history.errors import HistoryError, HistoryUnavailable, RunNotFound
from test_coordinator.history.records import RunRecord, ScenarioSummary
from test_coordinator.history.schema import (
    check_results,
    faults,
    run_documents,
    runs,
    scenarios,
    specs,
)
from test_coordinator.history.trend import Trend, TrendPoint, compute_trend
from test_coordinator.scenario.model import ChaosScenario
from test_coordinator.scenario.status import (
    TERMINAL_PHASES,
    Phase,
    ScenarioStatus,
    Verdict,
    utcnow,
)

__all__ = ["DEFAULT_TIMEOUT", "RunStore", "open_store"]

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 5.0
PRUNE_BATCH = 500  # runs deleted per transaction: a writer waits for one batch at most
_T = TypeVar("_T")


def open_store(url: str | HistoryUrl, *, timeout: float = DEFAULT_TIMEOUT) -> RunStore:
    """A store for ``url`` (``sqlite:///PATH`` or ``postgresql://…``); nothing is connected
    until it is used. ValueError for a URL that is neither (or ``off``)."""
    parsed = parse_history_url(url) if isinstance(url, str) else url
    if parsed is None:
        raise ValueError("history is off: there is no store to open")
    return RunStore(parsed, timeout=timeout)


class RunStore:
    """Use as ``async with open_store(url) as store:``, or call ``close()``."""

    def __init__(self, url: HistoryUrl, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.url = url
        self.timeout = timeout
        self._engine: AsyncEngine | None = None
        self._migrated = False
        self._ready_lock = asyncio.Lock()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        engine, self._engine, self._migrated = self._engine, None, False
        if engine is None:
            return
        try:
            async with asyncio.timeout(self.timeout):
                await engine.dispose()
        except Exception as error:  # closing never fails the caller
            log.debug("closing the history store %s: %s", self.url.display, error)

    # Writing

    async def record(
        self, scenario: ChaosScenario, status: ScenarioStatus, *, platform: str, source: str
    ) -> str:
        """Store a finished run; its run id. Recording the same run twice stores it once (a
        caller may retry after a timeout that came after the commit)."""
        if status.phase not in TERMINAL_PHASES:
            raise ValueError(f"only a finished run is stored; this one is {status.phase.value}")
        run_id = status.run_id or uuid.uuid4().hex[:12]
        return await self._bounded(
            "writing the run",
            lambda connection: self._insert_run(
                connection, scenario, status, run_id=run_id, platform=platform, source=source
            ),
            write=True,
        )

    async def prune(
        self,
        older_than: timedelta,
        *,
        now: datetime | None = None,
        batches: int | None = None,
    ) -> int:
        """Delete the runs that began more than ``older_than`` ago (and what only they used),
        a batch per transaction so that writers never wait long, at most ``batches`` batches
        (None: all); how many runs were deleted."""
        cutoff = (now or utcnow()) - older_than
        deleted = 0
        for _ in range(batches) if batches is not None else count():
            batch = await self._bounded(
                "pruning old runs",
                lambda connection: self._delete_batch(connection, cutoff),
                write=True,
            )
            deleted += batch
            if batch < PRUNE_BATCH:
                break
        if deleted:
            # Each in its own transaction: a concurrent record locks a scenario, then a spec;
            # holding both here too, in the other order, could deadlock with it.
            for orphans in (_orphan_specs, _orphan_scenarios):
                await self._bounded("pruning old runs", orphans, write=True)
        return deleted

    # Reading

    async def runs(
        self, name: str | None = None, *, since: datetime | None = None, limit: int = 50
    ) -> list[RunRecord]:
        """Runs newest first: of scenario ``name`` if given, begun at or after ``since``."""
        query = _listing().order_by(runs.c.started_at.desc(), runs.c.id.desc()).limit(limit)
        if name is not None:
            query = query.where(scenarios.c.name == name)
        if since is not None:
            query = query.where(runs.c.started_at >= since)

        async def read(connection: AsyncConnection) -> list[RunRecord]:
            return [_record(row) for row in await connection.execute(query)]

        return await self._bounded("reading runs", read)

    async def trend(self, name: str, *, since: datetime | None = None) -> Trend | None:
        """How scenario ``name`` has done since ``since`` (every run kept when None); None
        when it has no run in that window."""
        query = (
            select(
                runs.c.id, runs.c.started_at, runs.c.verdict, runs.c.recovery_seconds,
                runs.c.spec_hash,
            )
            .join(scenarios, runs.c.scenario_id == scenarios.c.id)
            .where(scenarios.c.name == name)
        )  # fmt: skip
        if since is not None:
            query = query.where(runs.c.started_at >= since)

        async def read(connection: AsyncConnection) -> list[TrendPoint]:
            return [
                TrendPoint(
                    run_id=row.id,
                    started_at=row.started_at,
                    verdict=Verdict(row.verdict) if row.verdict else None,
                    recovery_seconds=row.recovery_seconds,
                    spec_hash=row.spec_hash,
                )
                for row in await connection.execute(query)
            ]

        points = await self._bounded("reading the trend", read)
        return compute_trend(name, points, since=since) if points else None

    async def scenarios(
        self, *, since: datetime | None = None, recent: int = 30
    ) -> list[ScenarioSummary]:
        """Every scenario with a run since ``since``, by name: its counts, and its ``recent``
        newest runs (for a sparkline), in two queries however many runs are stored."""
        window = [] if since is None else [runs.c.started_at >= since]
        newest_first = (runs.c.started_at.desc(), runs.c.id.desc())
        ranked = (
            _listing()
            .add_columns(
                func.row_number()
                .over(partition_by=scenarios.c.name, order_by=newest_first)
                .label("rank")
            )
            .where(*window)
            .subquery()
        )
        newest = (
            select(ranked)
            .where(ranked.c.rank <= recent)
            .order_by(ranked.c.name, ranked.c.started_at, ranked.c.id)
        )
        counts = (
            select(
                scenarios.c.name,
                func.count().label("runs"),
                func.sum(case((runs.c.verdict == Verdict.PASS.value, 1), else_=0)).label("passed"),
                func.sum(case((runs.c.verdict == Verdict.FAIL.value, 1), else_=0)).label("failed"),
            )
            .join(scenarios, runs.c.scenario_id == scenarios.c.id)
            .where(*window)
            .group_by(scenarios.c.name)
            .order_by(scenarios.c.name)
        )

        async def read(connection: AsyncConnection) -> list[ScenarioSummary]:
            by_name: dict[str, list[RunRecord]] = {}
            for row in await connection.execute(newest):
                by_name.setdefault(row.name, []).append(_record(row))
            return [
                ScenarioSummary(
                    name=row.name,
                    runs=row.runs,
                    passed=int(row.passed or 0),
                    failed=int(row.failed or 0),
                    recent=by_name[row.name],
                )
                for row in await connection.execute(counts)
            ]

        return await self._bounded("reading scenarios", read)

    async def load_run(self, run_id: str) -> tuple[ChaosScenario, ScenarioStatus]:
        """The scenario as run and its full status, samples included; ``run_id`` may be a
        unique prefix of the id. RunNotFound when no run (or more than one) matches."""
        matches = await self._bounded("reading the run", lambda c: _matching(c, run_id))
        if len(matches) > 1:
            ids = ", ".join(row.id for row in matches)
            raise RunNotFound(f"run id {run_id!r} is ambiguous: it begins {ids}; give more of it")
        if not matches:
            raise RunNotFound(f"no run {run_id!r} in {self.url.display}")
        [row] = matches
        return restore_run(row.document, row.status, row.samples, run_id=row.id)

    # The machinery

    async def _bounded(
        self,
        doing: str,
        operation: Callable[[AsyncConnection], Awaitable[_T]],
        *,
        write: bool = False,
    ) -> _T:
        try:
            async with asyncio.timeout(self.timeout):
                engine = await self._ready()
                async with engine.connect() as connection:
                    if write:
                        connection = await writing(connection)
                    async with connection.begin():
                        return await operation(connection)
        except (HistoryError, ScenarioInvalid):
            raise
        except TimeoutError:
            raise HistoryUnavailable(
                self.url.display, f"no answer within {self.timeout:g}s {doing}"
            ) from None
        except Exception as error:  # whatever it is, the run it was about must not fail
            log.debug("history %s: %s", doing, error, exc_info=True)
            raise HistoryUnavailable(self.url.display, f"{doing}: {_reason(error)}") from None

    async def _ready(self) -> AsyncEngine:
        async with self._ready_lock:
            if self._engine is None:
                self._engine = create_engine(self.url, timeout=self.timeout / 2)
            if not self._migrated:
                await migrate.upgrade(self._engine)
                self._migrated = True
            return self._engine

    async def _insert_run(
        self,
        connection: AsyncConnection,
        scenario: ChaosScenario,
        status: ScenarioStatus,
        *,
        run_id: str,
        platform: str,
        source: str,
    ) -> str:
        upsert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
        document = scenario_document(scenario)
        spec_hash = document_hash(document)
        metadata = scenario.metadata
        new_scenario = upsert(scenarios).values(
            name=metadata.name, namespace=metadata.namespace or "", source=source
        )
        # An update that changes nothing, for its row lock and its RETURNING id.
        scenario_id = await connection.scalar(
            new_scenario.on_conflict_do_update(
                index_elements=["name", "namespace", "source"],
                set_={"name": new_scenario.excluded.name},
            ).returning(scenarios.c.id)
        )
        new_spec = upsert(specs).values(hash=spec_hash, document=document)
        await connection.execute(
            new_spec.on_conflict_do_update(
                index_elements=["hash"], set_={"hash": new_spec.excluded.hash}
            )
        )
        started = status.started_at or status.finished_at or utcnow()
        duration = None
        if status.started_at and status.finished_at:
            duration = (status.finished_at - status.started_at).total_seconds()
        inserted = await connection.execute(
            upsert(runs)
            .values(
                id=run_id,
                scenario_id=scenario_id,
                spec_hash=spec_hash,
                platform=platform,
                started_at=started,
                finished_at=status.finished_at,
                recorded_at=utcnow(),
                phase=status.phase.value,
                verdict=status.verdict.value if status.verdict else None,
                recovery_seconds=status.recovery_seconds,
                duration_seconds=duration,
                message=status.message,
                audit_sink=status.audit_sink,
            )
            .on_conflict_do_nothing(index_elements=["id"])
        )
        if inserted.rowcount == 0:
            return run_id  # recorded before
        await connection.execute(
            insert(run_documents).values(
                run_id=run_id, status=status_document(status), samples=samples_document(status)
            )
        )
        if status.checks:
            await connection.execute(insert(check_results), _check_rows(run_id, status))
        if status.faults:
            await connection.execute(insert(faults), _fault_rows(run_id, status))
        return run_id

    async def _delete_batch(self, connection: AsyncConnection, cutoff: datetime) -> int:
        ids = list(
            await connection.scalars(
                select(runs.c.id).where(runs.c.started_at < cutoff).limit(PRUNE_BATCH)
            )
        )
        if ids:
            for table in (check_results, faults, run_documents):
                await connection.execute(delete(table).where(table.c.run_id.in_(ids)))
            await connection.execute(delete(runs).where(runs.c.id.in_(ids)))
        return len(ids)


async def _orphan_specs(connection: AsyncConnection) -> None:
    used = exists().where(runs.c.spec_hash == specs.c.hash)
    await connection.execute(delete(specs).where(~used))


async def _orphan_scenarios(connection: AsyncConnection) -> None:
    used = exists().where(runs.c.scenario_id == scenarios.c.id)
    await connection.execute(delete(scenarios).where(~used))


def _listing() -> Select[Any]:
    return select(
        runs.c.id, scenarios.c.name, scenarios.c.namespace, scenarios.c.source,
        runs.c.platform, runs.c.started_at, runs.c.finished_at, runs.c.phase, runs.c.verdict,
        runs.c.recovery_seconds, runs.c.duration_seconds, runs.c.message, runs.c.spec_hash,
    ).join(scenarios, runs.c.scenario_id == scenarios.c.id)  # fmt: skip


def _record(row: Row[Any]) -> RunRecord:
    return RunRecord(
        run_id=row.id,
        scenario=row.name,
        namespace=row.namespace,
        source=row.source,
        platform=row.platform,
        started_at=row.started_at,
        finished_at=row.finished_at,
        phase=Phase(row.phase),
        verdict=Verdict(row.verdict) if row.verdict else None,
        recovery_seconds=row.recovery_seconds,
        duration_seconds=row.duration_seconds,
        message=row.message,
        spec_hash=row.spec_hash,
    )


async def _matching(connection: AsyncConnection, run_id: str) -> Sequence[Row[Any, Any, Any, Any]]:
    """The run with this id; else (for four characters or more) up to three it begins."""
    query = (
        select(runs.c.id, specs.c.document, run_documents.c.status, run_documents.c.samples)
        .join(specs, runs.c.spec_hash == specs.c.hash)
        .join(run_documents, run_documents.c.run_id == runs.c.id)
    )
    exact = (await connection.execute(query.where(runs.c.id == run_id))).all()
    if exact or len(run_id) < 4:
        return exact
    prefixed = query.where(runs.c.id.startswith(run_id, autoescape=True)).limit(3)
    return (await connection.execute(prefixed)).all()


def _check_rows(run_id: str, status: ScenarioStatus) -> list[dict[str, Any]]:
    return [
        {
            "run_id": run_id,
            "position": position,
            "name": check.name,
            "stage": check.when.value,
            "step": check.step,
            "passed": check.passed,
            "inconclusive": check.inconclusive,
            "observed": check.observed,
            "observations": check.observations,
            "success_rate": check.success_rate,
            "recovery_seconds": check.recovery_seconds,
            "longest_failure_seconds": check.longest_failure_seconds,
            "at": check.at,
        }
        for position, check in enumerate(status.checks)
    ]


def _fault_rows(run_id: str, status: ScenarioStatus) -> list[dict[str, Any]]:
    return [
        {
            "run_id": run_id,
            "position": position,
            "step": fault.step,
            "target": fault.target,
            "workload": fault.workload,
            "action": fault.action,
            "applied_at": fault.applied_at,
            # A field the status is gaining; absent from older versions of the model.
            "completed_at": getattr(fault, "completed_at", None),
            "reverted_at": fault.reverted_at,
            "message": fault.message,
        }
        for position, fault in enumerate(status.faults)
    ]


_DRIVER_PREFIX = re.compile(r"^<class '[\w.]+'>: ")


def _reason(error: BaseException) -> str:
    """The cause in one line, without SQLAlchemy's statement dump and link."""
    if isinstance(error, DBAPIError) and error.orig is not None:
        error = error.orig
    if isinstance(error, OSError) and error.errno:
        return os.strerror(error.errno)  # not asyncio's "Connect call failed (address)"
    text = _DRIVER_PREFIX.sub("", str(error)).strip().splitlines()
    return text[0] if text else type(error).__name__
