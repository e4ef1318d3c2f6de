"""The tables, as the code reads and writes them. The migrations (``migrations/versions``) create
them; ``tests/integration/history/test_migrations.py`` fails when the two disagree.

    scenarios   one row per scenario name, namespace and source (the file, or where the
                resource lives)
    specs       the scenario as run (metadata that matters, and the spec), once per content hash
    runs        one row per finished run: the columns history lists and trends are computed from
    run_documents   the run's full status and its samples, as JSON: a status that gains fields
                needs no migration, and the listing never reads them
    check_results, faults   one row per check and per fault, for questions across runs
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects import postgresql

__all__ = [
    "Document",
    "UtcDateTime",
    "check_results",
    "faults",
    "metadata",
    "run_documents",
    "runs",
    "scenarios",
    "specs",
]

# Constraint names fixed by convention, so a later migration can name what it alters.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UtcDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on the way in and out. SQLite keeps datetimes as text without a
    zone: stored in UTC they sort and compare correctly, and come back with the zone restored."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


Document: Any = JSON().with_variant(postgresql.JSONB(), "postgresql")
"""JSON text on SQLite, jsonb on PostgreSQL."""

scenarios = Table(
    "scenarios",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(253), nullable=False),
    Column("namespace", String(253), nullable=False, default=""),
    Column("source", String(1024), nullable=False, default=""),
    UniqueConstraint("name", "namespace", "source"),
)

specs = Table(
    "specs",
    metadata,
    Column("hash", String(64), primary_key=True),
    Column("document", Document, nullable=False),
)

runs = Table(
    "runs",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("scenario_id", Integer, ForeignKey("scenarios.id"), nullable=False),
    Column("spec_hash", String(64), ForeignKey("specs.hash"), nullable=False),
    Column("platform", String(32), nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime),
    Column("recorded_at", UtcDateTime, nullable=False),
    Column("phase", String(16), nullable=False),
    Column("verdict", String(16)),
    Column("recovery_seconds", Float),
    Column("duration_seconds", Float),
    Column("message", Text, nullable=False, default=""),
    Column("audit_sink", Text),
    # "runs of NAME, newest first" and "runs since": the two ways history is read.
    Index(None, "scenario_id", "started_at"),
    Index(None, "started_at"),
)

run_documents = Table(
    "run_documents",
    metadata,
    Column("run_id", String(64), ForeignKey("runs.id"), primary_key=True),
    Column("status", Document, nullable=False),
    Column("samples", Document, nullable=False),
)

check_results = Table(
    "check_results",
    metadata,
    Column("run_id", String(64), ForeignKey("runs.id"), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("name", String(253), nullable=False),
    Column("stage", String(32), nullable=False),  # the status's ``when``
    Column("step", String(253)),
    Column("passed", Boolean, nullable=False),
    Column("inconclusive", Boolean, nullable=False),
    Column("observed", Text, nullable=False),
    Column("observations", Integer, nullable=False),
    Column("success_rate", Float),
    Column("recovery_seconds", Float),
    Column("longest_failure_seconds", Float),
    Column("at", UtcDateTime),
)

faults = Table(
    "faults",
    metadata,
    Column("run_id", String(64), ForeignKey("runs.id"), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("step", String(253), nullable=False),
    Column("target", String(253), nullable=False),
    Column("workload", String(512), nullable=False),
    Column("action", String(32), nullable=False),
    Column("applied_at", UtcDateTime, nullable=False),
    Column("completed_at", UtcDateTime),
    Column("reverted_at", UtcDateTime),
    Column("message", Text, nullable=False),
)
