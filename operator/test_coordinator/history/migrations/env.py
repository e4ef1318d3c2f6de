"""Alembic's entry point: runs the migrations on the connection ``migrate.py`` hands over, inside
the transaction (and, on PostgreSQL, the advisory lock) it already holds."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

connection = context.config.attributes["connection"]
assert isinstance(connection, Connection)
context.configure(connection=connection, render_as_batch=True, transactional_ddl=True)
with context.begin_transaction():
    context.run_migrations()
