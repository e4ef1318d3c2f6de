"""Alembic migrations of the history schema, shipped with the package and applied by
``test_coordinator.history.migrate`` when a store is first used.

A new revision is a new module in ``versions/``: ``revision`` a new id, ``down_revision`` the
newest one before it, the change written with ``op`` (``op.batch_alter_table`` where SQLite's
ALTER falls short), and ``schema.py`` changed to match (a test compares the two)."""
