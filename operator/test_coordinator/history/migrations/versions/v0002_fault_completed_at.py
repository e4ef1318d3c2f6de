"""faults.completed_at: when applying a fault was done (a kill's grace period, say).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("faults") as faults:
        faults.add_column(sa.Column("completed_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    with op.batch_alter_table("faults") as faults:
        faults.drop_column("completed_at")
