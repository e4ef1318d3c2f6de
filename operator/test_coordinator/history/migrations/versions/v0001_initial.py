"""The first schema: scenarios, specs, runs with their documents, check results and faults.

Revision ID: 0001
Revises:
Create Date: 2026-11-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision: str | None = None
branch_labels = None
depends_on = None

_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _time() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "scenarios",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("name", sa.String(253), nullable=False),
        sa.Column("namespace", sa.String(253), nullable=False),
        sa.Column("source", sa.String(1024), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_scenarios"),
        sa.UniqueConstraint(
            "name", "namespace", "source", name="uq_scenarios_name_namespace_source"
        ),
    )
    op.create_table(
        "specs",
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("document", _DOCUMENT, nullable=False),
        sa.PrimaryKeyConstraint("hash", name="pk_specs"),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("scenario_id", sa.Integer, nullable=False),
        sa.Column("spec_hash", sa.String(64), nullable=False),
        sa.Column("platform", sa.String(32), nullable=False),
        sa.Column("started_at", _time(), nullable=False),
        sa.Column("finished_at", _time()),
        sa.Column("recorded_at", _time(), nullable=False),
        sa.Column("phase", sa.String(16), nullable=False),
        sa.Column("verdict", sa.String(16)),
        sa.Column("recovery_seconds", sa.Float),
        sa.Column("duration_seconds", sa.Float),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("audit_sink", sa.Text),
        sa.PrimaryKeyConstraint("id", name="pk_runs"),
        sa.ForeignKeyConstraint(
            ["scenario_id"], ["scenarios.id"], name="fk_runs_scenario_id_scenarios"
        ),
        sa.ForeignKeyConstraint(["spec_hash"], ["specs.hash"], name="fk_runs_spec_hash_specs"),
    )
    op.create_index("ix_runs_scenario_id_started_at", "runs", ["scenario_id", "started_at"])
    op.create_index("ix_runs_started_at", "runs", ["started_at"])
    op.create_table(
        "run_documents",
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("status", _DOCUMENT, nullable=False),
        sa.Column("samples", _DOCUMENT, nullable=False),
        sa.PrimaryKeyConstraint("run_id", name="pk_run_documents"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name="fk_run_documents_run_id_runs"),
    )
    op.create_table(
        "check_results",
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("name", sa.String(253), nullable=False),
        sa.Column("stage", sa.String(32), nullable=False),
        sa.Column("step", sa.String(253)),
        sa.Column("passed", sa.Boolean, nullable=False),
        sa.Column("inconclusive", sa.Boolean, nullable=False),
        sa.Column("observed", sa.Text, nullable=False),
        sa.Column("observations", sa.Integer, nullable=False),
        sa.Column("success_rate", sa.Float),
        sa.Column("recovery_seconds", sa.Float),
        sa.Column("longest_failure_seconds", sa.Float),
        sa.Column("at", _time()),
        sa.PrimaryKeyConstraint("run_id", "position", name="pk_check_results"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name="fk_check_results_run_id_runs"),
    )
    op.create_table(
        "faults",
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("step", sa.String(253), nullable=False),
        sa.Column("target", sa.String(253), nullable=False),
        sa.Column("workload", sa.String(512), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("applied_at", _time(), nullable=False),
        sa.Column("reverted_at", _time()),
        sa.Column("message", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("run_id", "position", name="pk_faults"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name="fk_faults_run_id_runs"),
    )


def downgrade() -> None:
    for table in ("faults", "check_results", "run_documents"):
        op.drop_table(table)
    op.drop_index("ix_runs_started_at", table_name="runs")
    op.drop_index("ix_runs_scenario_id_started_at", table_name="runs")
    for table in ("runs", "specs", "scenarios"):
        op.drop_table(table)
